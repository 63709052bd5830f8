// safetensors files: bit-exact round trips, atomic writes, validation of every header field, and
// interoperability with numpy/PyTorch readers and writers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "test_util.h"

namespace hive {
namespace {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

constexpr const char* kPython = "/usr/bin/python3";

template <typename Bits>
Tensor from_bits(const std::vector<Bits>& bits, const Shape& shape, DType dtype) {
  Tensor tensor = Tensor::empty(shape, dtype);
  if (!bits.empty()) std::memcpy(tensor.raw_data(), bits.data(), bits.size() * sizeof(Bits));
  return tensor;
}

// One tensor of every dtype, with the awkward values (NaN, -0, infinities, subnormals, extreme
// integers), plus a scalar and an empty tensor.
NamedTensors every_dtype() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float subnormal = std::numeric_limits<float>::denorm_min();
  return {
      {"f32", Tensor::from_vector(std::vector<float>{1.5f, -0.0f, nan, inf, -inf, subnormal}, Shape{2, 3})},
      {"f16", from_bits(std::vector<uint16_t>{0x3C00, 0x8000, 0x7E00, 0x0001, 0xFC00, 0x7BFF}, Shape{3, 2},
                        DType::kF16)},
      {"bf16", from_bits(std::vector<uint16_t>{0x3F80, 0x8000, 0x7FC1, 0x0001}, Shape{2, 2}, DType::kBF16)},
      {"i32", Tensor::from_vector(std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -1, 0,
                                                       std::numeric_limits<int32_t>::max()},
                                  Shape{4})},
      {"i64", Tensor::from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 1234567890123,
                                                       std::numeric_limits<int64_t>::max()},
                                  Shape{3})},
      {"u8", Tensor::from_vector(std::vector<uint8_t>{0, 1, 127, 128, 255}, Shape{5})},
      {"scalar", Tensor::scalar(3.25)},
      {"empty", Tensor::zeros(Shape{0, 3})},
      {"last", Tensor::from_vector(std::vector<float>{7.0f}, Shape{1})},
  };
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

std::string safetensors_bytes(const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return bytes + header + std::string(data_bytes, '\0');
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// A read of `contents` fails with a message that names the file and contains `fragment`.
void expect_read_fails(const std::string& contents, std::string_view fragment) {
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_file(path, contents);
  const Result<io::SafetensorsFile> result = io::read_safetensors(path);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find(path), std::string::npos) << result.message();
  EXPECT_NE(result.message().find(fragment), std::string::npos) << result.message();
}

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool python_has(const std::string& module) {
  return ::access(kPython, X_OK) == 0 &&
         run(str_cat(kPython, " -c 'import ", module, "' > /dev/null 2>&1")) == 0;
}

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kU8: return "U8";
  }
  return "?";
}

// Each element's bit pattern as read_safetensors.py expects it: unsigned for floats, the value
// for integers.
std::string bits_json(const Tensor& tensor) {
  std::string list = "[";
  const auto* bytes = static_cast<const unsigned char*>(tensor.raw_data());
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    if (i > 0) list += ",";
    const auto offset = static_cast<size_t>(i) * dtype_size(tensor.dtype());
    switch (tensor.dtype()) {
      case DType::kF32: {
        uint32_t bits = 0;
        std::memcpy(&bits, bytes + offset, sizeof(bits));
        list += std::to_string(bits);
        break;
      }
      case DType::kF16:
      case DType::kBF16: {
        uint16_t bits = 0;
        std::memcpy(&bits, bytes + offset, sizeof(bits));
        list += std::to_string(bits);
        break;
      }
      case DType::kI32: list += std::to_string(tensor.data<int32_t>()[i]); break;
      case DType::kI64: list += std::to_string(tensor.data<int64_t>()[i]); break;
      case DType::kU8: list += std::to_string(tensor.data<uint8_t>()[i]); break;
    }
  }
  return list + "]";
}

std::string expected_json(const NamedTensors& tensors, const std::string& metadata_json) {
  std::string json = str_cat("{\"metadata\": ", metadata_json, ", \"tensors\": {");
  for (size_t n = 0; n < tensors.size(); ++n) {
    const auto& [name, tensor] = tensors[n];
    std::string shape = "[";
    for (int axis = 0; axis < tensor.rank(); ++axis) {
      shape += str_cat(axis > 0 ? "," : "", tensor.shape()[axis]);
    }
    json += str_cat(n > 0 ? ", " : "", "\"", name, "\": {\"dtype\": \"", safetensors_dtype(tensor.dtype()),
                    "\", \"shape\": ", shape, "], \"bits\": ", bits_json(tensor), "}");
  }
  return json + "}}";
}

TEST(Safetensors, RoundTripIsBitExactForEveryDtypeWithMetadata) {
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("all.safetensors");
  const NamedTensors tensors = every_dtype();
  const io::Metadata metadata{{"epoch", "7"}, {"note", "caf\xc3\xa9 \"quoted\" \\ slash"}};
  ASSERT_TRUE(io::write_safetensors(path, tensors, metadata).is_ok());

  Result<io::SafetensorsFile> read = io::read_safetensors(path);
  ASSERT_TRUE(read.is_ok()) << read.message();
  EXPECT_EQ(read.value().metadata, metadata);
  const std::map<std::string, Tensor> by_name = read.value().by_name();
  ASSERT_EQ(by_name.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    EXPECT_TRUE(same_bytes(by_name.at(name), tensor)) << name;
  }
}

TEST(Safetensors, ReadKeepsTheWrittenOrderEvenForEmptyTensors) {
  // Empty tensors share their offset with the next tensor; enough of them that a sort which is
  // not stable would shuffle them.
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("order.safetensors");
  NamedTensors tensors;
  for (int i = 0; i < 40; ++i) {
    tensors.emplace_back(str_cat("t", i), Tensor::zeros(Shape{i % 3 == 0 ? 1 : 0}));
  }
  ASSERT_TRUE(io::write_safetensors(path, tensors).is_ok());
  Result<io::SafetensorsFile> read = io::read_safetensors(path);
  ASSERT_TRUE(read.is_ok()) << read.message();
  std::vector<std::string> names;
  for (const auto& [name, tensor] : read.value().tensors) names.push_back(name);
  std::vector<std::string> written;
  for (const auto& [name, tensor] : tensors) written.push_back(name);
  EXPECT_EQ(names, written);
}

TEST(Safetensors, WriteLeavesNoTemporaryFileBehind) {
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("model.safetensors");
  ASSERT_TRUE(io::write_safetensors(path, {{"a", Tensor::ones(Shape{3})}}).is_ok());
  ASSERT_TRUE(io::write_safetensors(path, {{"b", Tensor::zeros(Shape{2})}}).is_ok());
  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(entries, std::vector<std::string>{"model.safetensors"});
  Result<io::SafetensorsFile> read = io::read_safetensors(path);
  ASSERT_TRUE(read.is_ok()) << read.message();
  EXPECT_EQ(read.value().by_name().count("b"), 1u);
}

TEST(Safetensors, WriteRejectsDuplicateNames) {
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("dup.safetensors");
  const Status status =
      io::write_safetensors(path, {{"a", Tensor::ones(Shape{1})}, {"a", Tensor::ones(Shape{2})}});
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("'a'"), std::string::npos) << status.message();
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Safetensors, ReadRejectsMissingFile) {
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("absent.safetensors");
  const Result<io::SafetensorsFile> result = io::read_safetensors(path);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find(path), std::string::npos) << result.message();
}

TEST(Safetensors, ReadRejectsFileShorterThanLengthPrefix) {
  expect_read_fails("abc", "too short");
}

TEST(Safetensors, ReadRejectsHeaderLengthBeyondFile) {
  std::string contents = safetensors_bytes("{}", 0);
  contents[0] = 100;
  expect_read_fails(contents, "exceeds the file");
}

TEST(Safetensors, ReadRejectsNonJsonHeader) {
  expect_read_fails(safetensors_bytes("{not json", 0), "not a JSON object");
}

TEST(Safetensors, ReadRejectsUnknownDtype) {
  expect_read_fails(
      safetensors_bytes(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8), "\"F64\"");
}

TEST(Safetensors, ReadRejectsOffsetsThatDoNotMatchShape) {
  expect_read_fails(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4),
      "do not hold shape [2]");
}

TEST(Safetensors, ReadRejectsOverlappingOffsets) {
  expect_read_fails(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                      12),
                    "gaps and overlaps");
}

TEST(Safetensors, ReadRejectsGapBetweenTensors) {
  expect_read_fails(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                      12),
                    "gaps and overlaps");
}

TEST(Safetensors, ReadRejectsTrailingUnusedBytes) {
  expect_read_fails(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8),
      "cover 4 bytes but the file holds 8");
}

TEST(SafetensorsPython, NumpyAndTorchReadWhatHiveWrites) {
  if (!python_has("numpy")) GTEST_SKIP() << kPython << " with numpy is not available";
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("hive.safetensors");
  const std::string expected_path = dir.file("expected.json");
  const NamedTensors tensors = every_dtype();
  ASSERT_TRUE(io::write_safetensors(path, tensors, {{"writer", "hive"}}).is_ok());
  write_file(expected_path, expected_json(tensors, R"({"writer": "hive"})"));
  EXPECT_EQ(run(str_cat(kPython, " '", HIVE_TEST_PYTHON_DIR, "/read_safetensors.py' '", path, "' '",
                        expected_path, "'")),
            0);
}

TEST(SafetensorsPython, HiveReadsWhatTorchWrites) {
  if (!python_has("torch")) GTEST_SKIP() << kPython << " with torch is not available";
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("torch.safetensors");
  ASSERT_EQ(run(str_cat(kPython, " '", HIVE_TEST_PYTHON_DIR, "/write_safetensors.py' '", path, "'")), 0);
  Result<io::SafetensorsFile> read = io::read_safetensors(path);
  ASSERT_TRUE(read.is_ok()) << read.message();
  EXPECT_EQ(read.value().metadata, (io::Metadata{{"writer", "torch"}}));
  const std::map<std::string, Tensor> tensors = read.value().by_name();
  ASSERT_EQ(tensors.size(), 8u);

  const std::vector<float> base{-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f};
  for (const char* name : {"f32", "f16", "bf16"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(tensors.at(name).shape(), (Shape{2, 3}));
    testing::expect_close(tensors.at(name), base, 0.0, 0.0);
  }
  EXPECT_EQ(tensors.at("f16").dtype(), DType::kF16);
  EXPECT_EQ(tensors.at("bf16").dtype(), DType::kBF16);
  EXPECT_EQ(tensors.at("i32").to_vector<int32_t>(),
            (std::vector<int32_t>{-3, 0, 7, std::numeric_limits<int32_t>::max()}));
  EXPECT_EQ(tensors.at("i64").to_vector<int64_t>(), (std::vector<int64_t>{-(int64_t{1} << 40), 5}));
  EXPECT_EQ(tensors.at("u8").to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 255}));
  EXPECT_EQ(tensors.at("scalar").shape(), Shape{});
  EXPECT_EQ(tensors.at("scalar").item<float>(), 2.5f);
  EXPECT_EQ(tensors.at("empty").shape(), (Shape{0, 3}));
}

}  // namespace
}  // namespace hive
