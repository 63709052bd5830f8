#include "engine/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>

namespace hive::data {
namespace {

// Owns a zlib reader (which also reads uncompressed files as they are).
class GzipFile {
 public:
  explicit GzipFile(const std::string& path) : file_(gzopen(path.c_str(), "rb")) {}
  ~GzipFile() {
    if (file_ != nullptr) gzclose(file_);
  }
  GzipFile(const GzipFile&) = delete;
  GzipFile& operator=(const GzipFile&) = delete;

  bool is_open() const { return file_ != nullptr; }
  // Reads exactly `size` bytes; false on a short read or error.
  bool read(void* buffer, size_t size) {
    auto* bytes = static_cast<char*>(buffer);
    while (size > 0) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(size, 1u << 30));
      const int got = gzread(file_, bytes, chunk);
      if (got <= 0) return false;
      bytes += got;
      size -= static_cast<size_t>(got);
    }
    return true;
  }
  bool at_end() {
    char extra = 0;
    return gzread(file_, &extra, 1) == 0;
  }

 private:
  gzFile file_;
};

Status fail(const std::string& path, const std::string& what) {
  return Status::error(str_cat("read_idx: '", path, "': ", what));
}

template <typename T>
void from_big_endian(T* values, int64_t count) {
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) {
    for (int64_t i = 0; i < count; ++i) {
      auto bits = std::bit_cast<std::array<unsigned char, sizeof(T)>>(values[i]);
      std::reverse(bits.begin(), bits.end());
      values[i] = std::bit_cast<T>(bits);
    }
  }
}

}  // namespace

Result<Tensor> read_idx(const std::string& path) {
  GzipFile file(path);
  if (!file.is_open()) return fail(path, str_cat("cannot open: ", std::strerror(errno)));
  std::array<unsigned char, 4> magic{};
  if (!file.read(magic.data(), magic.size())) return fail(path, "too short for the IDX magic");
  if (magic[0] != 0 || magic[1] != 0) {
    return fail(path, str_cat("bad magic bytes ", int{magic[0]}, " ", int{magic[1]}, " (expected 0 0)"));
  }
  DType dtype;
  switch (magic[2]) {
    case 0x08: dtype = DType::kU8; break;
    case 0x0C: dtype = DType::kI32; break;
    case 0x0D: dtype = DType::kF32; break;
    default: return fail(path, str_cat("element type 0x", std::hex, int{magic[2]}, " is not supported (u8, i32, f32)"));
  }
  const int rank = magic[3];
  if (rank < 1 || rank > Shape::kMaxRank) return fail(path, str_cat("rank ", rank, " is not in [1, ", Shape::kMaxRank, "]"));
  Shape shape;
  for (int axis = 0; axis < rank; ++axis) {
    std::array<unsigned char, 4> dim{};
    if (!file.read(dim.data(), dim.size())) return fail(path, "truncated dimension list");
    shape.push_back((int64_t{dim[0]} << 24) | (int64_t{dim[1]} << 16) | (int64_t{dim[2]} << 8) | dim[3]);
  }
  int64_t count = 0;
  try {
    count = shape.numel();
  } catch (const Error& overflow) {
    return fail(path, overflow.what());
  }
  Tensor tensor = Tensor::empty(shape, dtype);
  if (!file.read(tensor.raw_data(), tensor.nbytes())) {
    return fail(path, str_cat("truncated: shape ", shape, " needs ", tensor.nbytes(), " data bytes"));
  }
  if (!file.at_end()) return fail(path, str_cat("trailing bytes after the ", shape, " elements"));
  if (dtype == DType::kI32) from_big_endian(tensor.data<int32_t>(), count);
  if (dtype == DType::kF32) from_big_endian(tensor.data<float>(), count);
  return tensor;
}

}  // namespace hive::data
