// The IDX reader: plain and gzip-compressed files of each element type, and every kind of bad file.
#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "test_util.h"

namespace hive {
namespace {

enum class Compression : uint8_t { kNone, kGzip };

constexpr uint8_t kU8 = 0x08;
constexpr uint8_t kI32 = 0x0C;
constexpr uint8_t kF32 = 0x0D;

void append_big_endian(std::string& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((value >> shift) & 0xFF));
}

// Magic (0, 0, type, rank), big-endian u32 dimensions, then `elements` as given.
std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::string& elements) {
  std::string bytes{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t dim : dims) append_big_endian(bytes, dim);
  return bytes + elements;
}

std::string big_endian_words(const std::vector<uint32_t>& words) {
  std::string bytes;
  for (uint32_t word : words) append_big_endian(bytes, word);
  return bytes;
}

void write_file(const std::string& path, const std::string& bytes, Compression compression) {
  if (compression == Compression::kNone) {
    std::ofstream(path, std::ios::binary) << bytes;
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

class IdxTest : public ::testing::TestWithParam<Compression> {
 protected:
  // Writes `bytes` (compressed when the parameter says so) and reads them back.
  Result<Tensor> round_trip(const std::string& bytes) {
    const std::string path = dir_.file(GetParam() == Compression::kGzip ? "data.idx.gz" : "data.idx");
    write_file(path, bytes, GetParam());
    return data::read_idx(path);
  }

  // The read fails with a message that contains `fragment`.
  void expect_refused(const std::string& bytes, std::string_view fragment) {
    const Result<Tensor> result = round_trip(bytes);
    ASSERT_FALSE(result.is_ok());
    EXPECT_NE(result.message().find(fragment), std::string::npos) << result.message();
  }

  testing::ScopedTempDir dir_;
};

TEST_P(IdxTest, ReadsU8Rank3) {
  std::string pixels;
  for (int i = 0; i < 24; ++i) pixels.push_back(static_cast<char>(i * 11));
  const Result<Tensor> result = round_trip(idx_bytes(kU8, {2, 3, 4}, pixels));
  ASSERT_TRUE(result.is_ok()) << result.message();
  const Tensor& tensor = result.value();
  EXPECT_EQ(tensor.dtype(), DType::kU8);
  EXPECT_EQ(tensor.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(tensor.to_vector<uint8_t>(), std::vector<uint8_t>(pixels.begin(), pixels.end()));
}

TEST_P(IdxTest, ReadsBigEndianI32Rank1) {
  const std::vector<int32_t> values{-2, 0, 1, 0x01020304, -2147483647 - 1};
  std::vector<uint32_t> words;
  for (int32_t value : values) words.push_back(static_cast<uint32_t>(value));
  const Result<Tensor> result = round_trip(idx_bytes(kI32, {5}, big_endian_words(words)));
  ASSERT_TRUE(result.is_ok()) << result.message();
  EXPECT_EQ(result.value().dtype(), DType::kI32);
  EXPECT_EQ(result.value().shape(), Shape{5});
  EXPECT_EQ(result.value().to_vector<int32_t>(), values);
}

TEST_P(IdxTest, ReadsBigEndianF32) {
  const std::vector<float> values{1.5f, -0.25f, 3.0e-20f, 65504.0f};
  std::vector<uint32_t> words;
  for (float value : values) words.push_back(std::bit_cast<uint32_t>(value));
  const Result<Tensor> result = round_trip(idx_bytes(kF32, {2, 2}, big_endian_words(words)));
  ASSERT_TRUE(result.is_ok()) << result.message();
  EXPECT_EQ(result.value().dtype(), DType::kF32);
  EXPECT_EQ(result.value().shape(), (Shape{2, 2}));
  EXPECT_EQ(result.value().to_vector<float>(), values);
}

TEST_P(IdxTest, RefusesBadMagic) {
  std::string bytes = idx_bytes(kU8, {2}, std::string(2, '\1'));
  bytes[0] = 1;
  expect_refused(bytes, "bad magic");
}

TEST_P(IdxTest, RefusesUnsupportedElementType) {
  expect_refused(idx_bytes(0x0B, {2}, std::string(4, '\0')), "element type 0xb is not supported");
}

TEST_P(IdxTest, RefusesTruncatedData) {
  expect_refused(idx_bytes(kU8, {2, 3}, std::string(5, '\0')), "truncated");
}

TEST_P(IdxTest, RefusesTrailingBytes) {
  expect_refused(idx_bytes(kU8, {2, 3}, std::string(7, '\0')), "trailing bytes");
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxTest, ::testing::Values(Compression::kNone, Compression::kGzip),
                         [](const ::testing::TestParamInfo<Compression>& param_info) {
                           return param_info.param == Compression::kGzip ? "Gzip" : "Plain";
                         });

TEST(Idx, RefusesMissingFile) {
  const testing::ScopedTempDir dir;
  const std::string path = dir.file("absent.idx");
  const Result<Tensor> result = data::read_idx(path);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find(path), std::string::npos) << result.message();
  EXPECT_NE(result.message().find("cannot open"), std::string::npos) << result.message();
}

}  // namespace
}  // namespace hive
