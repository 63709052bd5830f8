#include "engine/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace hive::io {
namespace {

using Json = nlohmann::ordered_json;

// A header larger than this is refused before it is read (the reference implementation's limit).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

constexpr std::array<std::pair<DType, const char*>, 6> kDTypeNames = {{
    {DType::kF32, "F32"},
    {DType::kF16, "F16"},
    {DType::kBF16, "BF16"},
    {DType::kI32, "I32"},
    {DType::kI64, "I64"},
    {DType::kU8, "U8"},
}};

const char* safetensors_dtype(DType dtype) {
  for (const auto& [candidate, name] : kDTypeNames) {
    if (candidate == dtype) return name;
  }
  HIVE_CHECK(false, "no safetensors name for dtype ", dtype);
}

std::optional<DType> parse_safetensors_dtype(const std::string& name) {
  for (const auto& [dtype, candidate] : kDTypeNames) {
    if (name == candidate) return dtype;
  }
  return std::nullopt;
}

std::string errno_text() { return std::strerror(errno); }

Status write_all(int fd, const void* data, size_t size, const std::string& path) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return Status::error(str_cat("write_safetensors: writing '", path, "' failed: ", errno_text()));
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
  return Status::ok();
}

// Owns a file descriptor; closes it unless release()d through close_checked().
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int close_checked() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

Status fail(const std::string& path, const std::string& what) {
  return Status::error(str_cat("read_safetensors: '", path, "': ", what));
}

}  // namespace

std::map<std::string, Tensor> SafetensorsFile::by_name() const {
  return {tensors.begin(), tensors.end()};
}

Status write_safetensors(const std::string& path,
                         const std::vector<std::pair<std::string, Tensor>>& tensors,
                         const Metadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host_tensors;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__" || !names.insert(name).second) {
      return Status::error(str_cat("write_safetensors: '", path, "': tensor name '", name,
                                   "' is empty, reserved or repeated"));
    }
    if (!tensor.defined()) {
      return Status::error(str_cat("write_safetensors: '", path, "': tensor '", name, "' is undefined"));
    }
    host_tensors.push_back(tensor.to(Device::cpu()));
    const uint64_t bytes = tensor.nbytes();
    header[name] = {{"dtype", safetensors_dtype(tensor.dtype())},
                    {"shape", std::vector<int64_t>(tensor.shape().begin(), tensor.shape().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::array<unsigned char, 8> length{};
  for (size_t i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header_text.size() >> (8 * i));

  const std::string temporary = path + ".tmp";
  FileDescriptor file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (file.get() < 0) {
    return Status::error(str_cat("write_safetensors: cannot create '", temporary, "': ", errno_text()));
  }
  Status status = write_all(file.get(), length.data(), length.size(), temporary);
  if (status.is_ok()) status = write_all(file.get(), header_text.data(), header_text.size(), temporary);
  for (const Tensor& tensor : host_tensors) {
    if (!status.is_ok()) break;
    status = write_all(file.get(), tensor.raw_data(), tensor.nbytes(), temporary);
  }
  if (status.is_ok() && ::fsync(file.get()) != 0) {
    status = Status::error(str_cat("write_safetensors: flushing '", temporary, "' failed: ", errno_text()));
  }
  if (file.close_checked() != 0 && status.is_ok()) {
    status = Status::error(str_cat("write_safetensors: closing '", temporary, "' failed: ", errno_text()));
  }
  if (status.is_ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = Status::error(str_cat("write_safetensors: renaming '", temporary, "' to '", path,
                                   "' failed: ", errno_text()));
  }
  if (!status.is_ok()) ::unlink(temporary.c_str());
  return status;
}

Result<SafetensorsFile> read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path, str_cat("cannot open: ", errno_text()));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) return fail(path, str_cat("file of ", file_size, " bytes is too short for a header"));
  std::array<unsigned char, 8> length_bytes{};
  in.read(reinterpret_cast<char*>(length_bytes.data()), 8);
  uint64_t header_size = 0;
  for (size_t i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (header_size > kMaxHeaderBytes || header_size > file_size - 8) {
    return fail(path, str_cat("header length ", header_size, " exceeds the file (", file_size,
                              " bytes) or the limit of ", kMaxHeaderBytes, " bytes"));
  }
  std::string header_text(header_size, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_size));
  const uint64_t data_size = file_size - 8 - header_size;

  Json header = Json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return fail(path, "header is not a JSON object");
  }

  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin;
    uint64_t end;
  };
  std::vector<Entry> entries;
  SafetensorsFile file;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return fail(path, "__metadata__ is not an object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) return fail(path, str_cat("metadata '", key, "' is not a string"));
        file.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    const std::string where = str_cat("tensor '", name, "': ");
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
        !value.contains("data_offsets")) {
      return fail(path, where + "needs dtype, shape and data_offsets");
    }
    const Json& dtype_json = value["dtype"];
    const auto dtype = dtype_json.is_string() ? parse_safetensors_dtype(dtype_json.get<std::string>())
                                              : std::nullopt;
    if (!dtype) {
      return fail(path, str_cat(where, "unsupported dtype ", dtype_json.dump(),
                                " (hive reads F32, F16, BF16, I32, I64, U8)"));
    }
    const Json& shape_json = value["shape"];
    if (!shape_json.is_array() || shape_json.size() > Shape::kMaxRank) {
      return fail(path, str_cat(where, "shape ", shape_json.dump(), " is not an array of at most ",
                                Shape::kMaxRank, " dimensions"));
    }
    Shape shape;
    uint64_t elements = 1;
    for (const Json& dim : shape_json) {
      if (!dim.is_number_unsigned() ||
          __builtin_mul_overflow(elements, dim.get<uint64_t>(), &elements) ||
          dim.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return fail(path, str_cat(where, "shape ", shape_json.dump(), " has a bad or overflowing dimension"));
      }
      shape.push_back(dim.get<int64_t>());
    }
    const Json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return fail(path, str_cat(where, "data_offsets ", offsets.dump(), " is not [begin, end]"));
    }
    const auto begin = offsets[0].get<uint64_t>();
    const auto end = offsets[1].get<uint64_t>();
    uint64_t bytes = 0;
    if (begin > end || end > data_size ||
        __builtin_mul_overflow(elements, dtype_size(*dtype), &bytes) || bytes != end - begin) {
      return fail(path, str_cat(where, "data_offsets [", begin, ", ", end, "] do not hold shape ",
                                shape, " of ", dtype_json.get<std::string>(), " within ",
                                data_size, " data bytes"));
    }
    entries.push_back({name, *dtype, shape, begin, end});
  }
  // An empty tensor shares its offset with the tensor after it: ordering by (begin, end), stably,
  // puts it first, as it was written, so the tiling check below does not mistake it for an
  // overlap.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t expected_begin = 0;
  for (const Entry& entry : entries) {
    if (entry.begin != expected_begin) {
      return fail(path, str_cat("tensor '", entry.name, "' starts at byte ", entry.begin,
                                " but the previous data ends at ", expected_begin,
                                " (gaps and overlaps are not allowed)"));
    }
    expected_begin = entry.end;
  }
  if (expected_begin != data_size) {
    return fail(path, str_cat("tensors cover ", expected_begin, " bytes but the file holds ",
                              data_size, " data bytes"));
  }
  for (const Entry& entry : entries) {
    Tensor tensor = Tensor::empty(entry.shape, entry.dtype);
    in.seekg(static_cast<std::streamoff>(8 + header_size + entry.begin));
    in.read(static_cast<char*>(tensor.raw_data()), static_cast<std::streamsize>(entry.end - entry.begin));
    if (!in) return fail(path, str_cat("reading tensor '", entry.name, "' failed"));
    file.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return file;
}

}  // namespace hive::io
