// The tensor wire codec: error bounds of each compression on standard-normal data, exact round
// trips where the codec is lossless, empty and all-zero tensors, and rejection of every malformed
// input a peer could send.
#include "net/codec/tensor_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace hive::net {
namespace {

using Bytes = std::vector<std::byte>;

constexpr Compression kEveryCompression[] = {Compression::kNone, Compression::kFloat16,
                                             Compression::kBFloat16, Compression::kUniform8Bit,
                                             Compression::kBlockwise8Bit};
constexpr WireDType kEveryDType[] = {WireDType::kF32, WireDType::kF16, WireDType::kBF16,
                                     WireDType::kI32, WireDType::kI64, WireDType::kU8};
constexpr Compression kEightBit[] = {Compression::kUniform8Bit, Compression::kBlockwise8Bit};

const TensorDescriptor kLargeF32{WireDType::kF32, {128, 128, 64}};

std::vector<float> standard_normal(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = normal(generator);
  return values;
}

template <typename T>
Bytes to_bytes(const std::vector<T>& values) {
  Bytes bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<float> to_floats(const Bytes& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

uint16_t to_f16_bits(float value) { return std::bit_cast<uint16_t>(static_cast<_Float16>(value)); }
float from_f16_bits(uint16_t bits) { return static_cast<float>(std::bit_cast<_Float16>(bits)); }
uint16_t to_bf16_bits_truncated(float value) {
  return static_cast<uint16_t>(std::bit_cast<uint32_t>(value) >> 16);
}
float from_bf16_bits(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

Bytes encode(const TensorDescriptor& descriptor, const Bytes& raw, Compression compression) {
  auto size = encoded_size(descriptor, compression);
  EXPECT_TRUE(size.is_ok()) << size.status().to_string();
  Bytes encoded(size.is_ok() ? size.value() : 0);
  const Status status = encode_tensor(descriptor, raw, compression, encoded);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  return encoded;
}

Bytes decode(const TensorDescriptor& descriptor, const Bytes& encoded, Compression compression) {
  Bytes raw(descriptor.raw_size().value());
  const Status status = decode_tensor(descriptor, compression, encoded, raw);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  return raw;
}

Bytes round_trip(const TensorDescriptor& descriptor, const Bytes& raw, Compression compression) {
  return decode(descriptor, encode(descriptor, raw, compression), compression);
}

double mean_squared_error(const std::vector<float>& expected, const std::vector<float>& actual) {
  EXPECT_EQ(expected.size(), actual.size());
  double sum = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double error = static_cast<double>(expected[i]) - actual[i];
    sum += error * error;
  }
  return expected.empty() ? 0.0 : sum / static_cast<double>(expected.size());
}

double round_trip_mse(Compression compression) {
  const std::vector<float> values = standard_normal(128 * 128 * 64, 42);
  const std::vector<float> decoded = to_floats(round_trip(kLargeF32, to_bytes(values), compression));
  const double mse = mean_squared_error(values, decoded);
  testing::Test::RecordProperty(std::string(compression_name(compression)) + "_mse", std::to_string(mse));
  std::printf("%-14s MSE %.3e\n", std::string(compression_name(compression)).c_str(), mse);
  return mse;
}

void expect_invalid(const Status& status, const std::string& fragment) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.to_string();
  EXPECT_NE(status.message().find(fragment), std::string::npos)
      << "message '" << status.message() << "' lacks '" << fragment << "'";
}

bool applies(WireDType dtype, Compression compression) {
  switch (compression) {
    case Compression::kNone: return true;
    case Compression::kFloat16:
    case Compression::kBFloat16: return dtype == WireDType::kF32;
    default: return is_floating(dtype);
  }
}

// ---------------------------------------------------------------------------------------------
// Error bounds on a 128x128x64 standard-normal f32 tensor

TEST(TensorCodec, Float16RoundTripOfStandardNormalHasMseBelow5e8) {
  EXPECT_LE(round_trip_mse(Compression::kFloat16), 5e-8);
}

// bf16 keeps 8 significant bits: the error is uniform within half an ulp (|x| 2^-8 at most), so
// the MSE is below E[x^2] 2^-16 / 3 ~ 5e-6 for unit variance; 2e-5 leaves room.
TEST(TensorCodec, BFloat16RoundTripOfStandardNormalHasMseBelow2e5) {
  EXPECT_LE(round_trip_mse(Compression::kBFloat16), 2e-5);
}

TEST(TensorCodec, Uniform8BitRoundTripOfStandardNormalHasMseBelow8e4) {
  EXPECT_LE(round_trip_mse(Compression::kUniform8Bit), 8e-4);
}

TEST(TensorCodec, Blockwise8BitRoundTripOfStandardNormalHasMseBelow8e4) {
  EXPECT_LE(round_trip_mse(Compression::kBlockwise8Bit), 8e-4);
}

TEST(TensorCodec, NoneRoundTripOfStandardNormalIsExact) {
  EXPECT_EQ(round_trip_mse(Compression::kNone), 0.0);
}

// A partial last block (4160 = 4096 + 64 elements) keeps its own absmax.
TEST(TensorCodec, Blockwise8BitPartialLastBlockHasMseBelow8e4) {
  const TensorDescriptor descriptor{WireDType::kF32, {65, 64}};
  std::vector<float> values = standard_normal(65 * 64, 7);
  for (size_t i = 4096; i < values.size(); ++i) values[i] *= 1e-3f;  // the tail block is tiny
  const std::vector<float> decoded =
      to_floats(round_trip(descriptor, to_bytes(values), Compression::kBlockwise8Bit));
  EXPECT_LE(mean_squared_error(values, decoded), 8e-4);
  for (size_t i = 4096; i < values.size(); ++i) EXPECT_NEAR(decoded[i], values[i], 1e-4) << i;
}

// ---------------------------------------------------------------------------------------------
// Exact values

TEST(TensorCodec, ZerosRoundTripToExactZeroWithEveryCompression) {
  const TensorDescriptor descriptor{WireDType::kF32, {3, 5000}};
  const std::vector<float> zeros(3 * 5000, 0.0f);
  for (Compression compression : kEveryCompression) {
    const std::vector<float> decoded = to_floats(round_trip(descriptor, to_bytes(zeros), compression));
    for (float value : decoded) {
      ASSERT_EQ(value, 0.0f) << compression_name(compression);
      ASSERT_FALSE(std::signbit(value)) << compression_name(compression);
    }
  }
}

TEST(TensorCodec, EightBitCodecsKeepAConstantTensorExact) {
  const TensorDescriptor descriptor{WireDType::kF32, {100}};
  const std::vector<float> values(100, -3.25f);
  for (Compression compression : kEightBit) {
    EXPECT_EQ(to_floats(round_trip(descriptor, to_bytes(values), compression)), values)
        << compression_name(compression);
  }
}

// Ranges as wide as f32 must not overflow in any intermediate step, in either direction.
TEST(TensorCodec, EightBitCodecsDecodeExtremeRangesToFiniteValues) {
  const float max = std::numeric_limits<float>::max();
  const TensorDescriptor descriptor{WireDType::kF32, {4}};
  const std::vector<float> values{-max, max, 0.0f, max / 3};
  for (Compression compression : kEightBit) {
    const std::vector<float> decoded = to_floats(round_trip(descriptor, to_bytes(values), compression));
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_TRUE(std::isfinite(decoded[i])) << compression_name(compression) << " element " << i;
      EXPECT_NEAR(decoded[i] / max, values[i] / max, 1.0 / 127) << compression_name(compression);
    }
  }
}

TEST(TensorCodec, EveryDTypeRoundTripsBitExactWithoutCompression) {
  std::mt19937 generator(3);
  for (WireDType dtype : kEveryDType) {
    const TensorDescriptor descriptor{dtype, {7, 13}};
    Bytes raw(descriptor.raw_size().value());
    for (std::byte& byte : raw) byte = static_cast<std::byte>(generator());  // any bit pattern
    EXPECT_EQ(round_trip(descriptor, raw, Compression::kNone), raw) << wire_dtype_name(dtype);
  }
}

TEST(TensorCodec, BFloat16RoundsToNearestEvenAndKeepsNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float signaling_nan = std::bit_cast<float>(0x7F800001u);  // rounding would make it inf
  const float halfway_down = 1.0f + 0x1p-8f;       // halfway between 1 and 1 + 2^-7: even is 1
  const float halfway_up = 1.0f + 3 * 0x1p-8f;     // halfway between 1 + 2^-7 and 1 + 2^-6
  const float above_halfway = 1.0f + 0x1p-8f + 0x1p-20f;
  const TensorDescriptor descriptor{WireDType::kF32, {5}};
  const std::vector<float> values{halfway_down, halfway_up, above_halfway, nan, signaling_nan};
  const std::vector<float> decoded =
      to_floats(round_trip(descriptor, to_bytes(values), Compression::kBFloat16));
  EXPECT_EQ(decoded[0], 1.0f);
  EXPECT_EQ(decoded[1], 1.0f + 0x1p-6f);
  EXPECT_EQ(decoded[2], 1.0f + 0x1p-7f);
  EXPECT_TRUE(std::isnan(decoded[3]));
  EXPECT_TRUE(std::isnan(decoded[4]));
}

// The 16-bit converters work 8 elements at a time: 19 elements exercise the tail too.
TEST(TensorCodec, Float16MatchesScalarConversionIncludingTail) {
  const TensorDescriptor descriptor{WireDType::kF32, {19}};
  std::vector<float> values = standard_normal(19, 11);
  values[3] = 1e6f;                                     // overflows to inf
  values[17] = std::numeric_limits<float>::quiet_NaN();  // in the tail
  const std::vector<float> decoded =
      to_floats(round_trip(descriptor, to_bytes(values), Compression::kFloat16));
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) {
      EXPECT_TRUE(std::isnan(decoded[i])) << i;
    } else {
      EXPECT_EQ(decoded[i], from_f16_bits(to_f16_bits(values[i]))) << i;
    }
  }
}

// Spans into a frame need not be aligned: encode from and decode into odd addresses.
TEST(TensorCodec, EveryCompressionWorksOnUnalignedSpans) {
  const TensorDescriptor descriptor{WireDType::kF32, {5000}};
  const Bytes raw = to_bytes(standard_normal(5000, 8));
  for (Compression compression : kEveryCompression) {
    const Bytes expected = round_trip(descriptor, raw, compression);
    const size_t size = encoded_size(descriptor, compression).value();
    Bytes raw_storage(raw.size() + 1);
    Bytes encoded_storage(size + 1);
    Bytes decoded_storage(raw.size() + 1);
    std::memcpy(raw_storage.data() + 1, raw.data(), raw.size());
    const std::span<const std::byte> unaligned_raw(raw_storage.data() + 1, raw.size());
    const std::span<std::byte> unaligned_encoded(encoded_storage.data() + 1, size);
    const std::span<std::byte> unaligned_decoded(decoded_storage.data() + 1, raw.size());
    ASSERT_TRUE(encode_tensor(descriptor, unaligned_raw, compression, unaligned_encoded).is_ok());
    ASSERT_TRUE(decode_tensor(descriptor, compression, unaligned_encoded, unaligned_decoded).is_ok());
    EXPECT_EQ(std::memcmp(unaligned_decoded.data(), expected.data(), expected.size()), 0)
        << compression_name(compression);
  }
}

// ---------------------------------------------------------------------------------------------
// 16-bit sources for the 8-bit codecs

TEST(TensorCodec, EightBitCodecsRoundTripF16AndBF16Sources) {
  const std::vector<float> normal = standard_normal(3 * 5000, 5);
  std::vector<uint16_t> f16(normal.size());
  std::vector<uint16_t> bf16(normal.size());
  for (size_t i = 0; i < normal.size(); ++i) {
    f16[i] = to_f16_bits(normal[i]);
    bf16[i] = to_bf16_bits_truncated(normal[i]);
  }
  for (Compression compression : kEightBit) {
    for (WireDType dtype : {WireDType::kF16, WireDType::kBF16}) {
      const bool is_f16 = dtype == WireDType::kF16;
      const std::vector<uint16_t>& source = is_f16 ? f16 : bf16;
      const TensorDescriptor descriptor{dtype, {3, 5000}};
      const Bytes decoded_bytes = round_trip(descriptor, to_bytes(source), compression);
      ASSERT_EQ(decoded_bytes.size(), source.size() * 2);
      std::vector<float> expected(source.size());
      std::vector<float> decoded(source.size());
      for (size_t i = 0; i < source.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, decoded_bytes.data() + 2 * i, sizeof bits);
        expected[i] = is_f16 ? from_f16_bits(source[i]) : from_bf16_bits(source[i]);
        decoded[i] = is_f16 ? from_f16_bits(bits) : from_bf16_bits(bits);
      }
      EXPECT_LE(mean_squared_error(expected, decoded), 8e-4)
          << compression_name(compression) << " from " << wire_dtype_name(dtype);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Empty tensors

TEST(TensorCodec, EmptyTensorsRoundTripForEveryApplicableCompression) {
  for (WireDType dtype : kEveryDType) {
    for (Compression compression : kEveryCompression) {
      if (!applies(dtype, compression)) continue;
      for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{0}, {3, 0, 5}}) {
        const TensorDescriptor descriptor{dtype, shape};
        const uint64_t expected_size = compression == Compression::kUniform8Bit ? 8 : 0;
        EXPECT_EQ(encoded_size(descriptor, compression).value(), expected_size);
        EXPECT_TRUE(round_trip(descriptor, Bytes{}, compression).empty())
            << wire_dtype_name(dtype) << " " << compression_name(compression);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rejections

TEST(TensorCodec, CompressionThatDoesNotApplyToTheDTypeIsRejected) {
  for (WireDType dtype : kEveryDType) {
    for (Compression compression : kEveryCompression) {
      if (applies(dtype, compression)) continue;
      const TensorDescriptor descriptor{dtype, {4}};
      const std::string fragment = str_cat("compression ", compression_name(compression),
                                           " does not apply to ", wire_dtype_name(dtype));
      expect_invalid(encoded_size(descriptor, compression).status(), fragment);
      Bytes raw(descriptor.raw_size().value());
      Bytes encoded(raw.size());
      expect_invalid(encode_tensor(descriptor, raw, compression, encoded), fragment);
      expect_invalid(decode_tensor(descriptor, compression, encoded, raw), fragment);
    }
  }
}

TEST(TensorCodec, UnknownCompressionIsRejected) {
  expect_invalid(encoded_size({WireDType::kF32, {4}}, static_cast<Compression>(9)).status(),
                 "unknown compression 9");
}

TEST(TensorCodec, DecodeRejectsTruncatedOrExtendedEncodedBuffer) {
  const TensorDescriptor descriptor{WireDType::kF32, {64, 65}};
  const Bytes raw = to_bytes(standard_normal(64 * 65, 9));
  for (Compression compression : kEveryCompression) {
    const Bytes encoded = encode(descriptor, raw, compression);
    Bytes output(raw.size());
    for (size_t size : {encoded.size() - 1, encoded.size() + 1, size_t{0}}) {
      Bytes wrong(encoded);
      wrong.resize(size);
      expect_invalid(decode_tensor(descriptor, compression, wrong, output),
                     str_cat("decode ", compression_name(compression), ": expected ", encoded.size(),
                             " encoded bytes for f32[64,65], got ", size));
    }
  }
}

TEST(TensorCodec, EncodeAndDecodeRejectARawSpanOfTheWrongSize) {
  const TensorDescriptor descriptor{WireDType::kF32, {10}};
  for (Compression compression : kEveryCompression) {
    const Bytes raw(40);
    const Bytes encoded = encode(descriptor, raw, compression);
    Bytes short_raw(39);
    Bytes encoded_copy(encoded);
    const std::string fragment = "expected 40 raw bytes for f32[10], got 39";
    expect_invalid(encode_tensor(descriptor, short_raw, compression, encoded_copy), fragment);
    expect_invalid(decode_tensor(descriptor, compression, encoded, short_raw), fragment);
  }
}

TEST(TensorCodec, DecodeRejectsNaNInfiniteOrNegativeStoredAbsmax) {
  const TensorDescriptor descriptor{WireDType::kF32, {3, 4096}};
  const Bytes encoded = encode(descriptor, to_bytes(standard_normal(3 * 4096, 1)),
                               Compression::kBlockwise8Bit);
  for (float absmax : {std::numeric_limits<float>::quiet_NaN(), -1.0f,
                       std::numeric_limits<float>::infinity()}) {
    Bytes corrupt(encoded);
    std::memcpy(corrupt.data() + 2 * sizeof(float), &absmax, sizeof absmax);  // block 2
    Bytes raw(descriptor.raw_size().value());
    expect_invalid(decode_tensor(descriptor, Compression::kBlockwise8Bit, corrupt, raw),
                   str_cat("absmax ", absmax, " for block 2 of 3"));
  }
}

TEST(TensorCodec, DecodeRejectsBlockwiseCodeZero) {
  const TensorDescriptor descriptor{WireDType::kF32, {5000}};
  Bytes encoded = encode(descriptor, to_bytes(standard_normal(5000, 2)), Compression::kBlockwise8Bit);
  encoded[2 * sizeof(float) + 4500] = std::byte{0};
  Bytes raw(descriptor.raw_size().value());
  expect_invalid(decode_tensor(descriptor, Compression::kBlockwise8Bit, encoded, raw),
                 "code 0 at element 4500");
}

TEST(TensorCodec, DecodeRejectsNonFiniteOrNegativeUniformScale) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float max = std::numeric_limits<float>::max();
  const TensorDescriptor descriptor{WireDType::kF32, {100}};
  const Bytes encoded = encode(descriptor, to_bytes(standard_normal(100, 4)), Compression::kUniform8Bit);
  struct Header {
    float min;
    float scale;
    const char* fragment;
  };
  for (const Header& header : {Header{0.0f, nan, "scale nan"}, Header{0.0f, -0.5f, "scale -0.5"},
                               Header{inf, 1.0f, "min inf"}, Header{nan, 1.0f, "min nan"},
                               Header{max, max, "beyond the f32 range"}}) {
    Bytes corrupt(encoded);
    std::memcpy(corrupt.data(), &header.min, sizeof(float));
    std::memcpy(corrupt.data() + sizeof(float), &header.scale, sizeof(float));
    Bytes raw(descriptor.raw_size().value());
    expect_invalid(decode_tensor(descriptor, Compression::kUniform8Bit, corrupt, raw), header.fragment);
  }
}

TEST(TensorCodec, EightBitEncodersRejectNonFiniteInputNamingTheElement) {
  const TensorDescriptor descriptor{WireDType::kF32, {3, 5000}};
  for (Compression compression : kEightBit) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
      std::vector<float> values = standard_normal(3 * 5000, 6);
      values[12345] = bad;
      Bytes encoded(encoded_size(descriptor, compression).value());
      expect_invalid(encode_tensor(descriptor, to_bytes(values), compression, encoded),
                     str_cat("non-finite value ", bad, " at element 12345"));
    }
  }
}

TEST(TensorCodec, EightBitEncodersRejectNonFiniteF16Input) {
  const TensorDescriptor descriptor{WireDType::kF16, {10}};
  std::vector<uint16_t> values(10, to_f16_bits(1.0f));
  values[7] = 0x7C00;  // +inf
  for (Compression compression : kEightBit) {
    Bytes encoded(encoded_size(descriptor, compression).value());
    expect_invalid(encode_tensor(descriptor, to_bytes(values), compression, encoded), "at element 7");
  }
}

TEST(TensorCodec, EncodedSizeRejectsOverflowingOrNegativeShapes) {
  for (Compression compression : kEveryCompression) {
    expect_invalid(encoded_size({WireDType::kF32, {int64_t{1} << 40, int64_t{1} << 40}}, compression)
                       .status(),
                   "overflows");
    expect_invalid(encoded_size({WireDType::kF32, {int64_t{1} << 62}}, compression).status(),
                   "overflows");
    expect_invalid(encoded_size({WireDType::kF32, {4, -1}}, compression).status(), "negative");
  }
}

TEST(TensorCodec, EncodedSizesFollowTheLayouts) {
  const TensorDescriptor descriptor{WireDType::kF32, {64, 65}};  // 4160 elements: 2 blocks
  EXPECT_EQ(encoded_size(descriptor, Compression::kNone).value(), 4160u * 4);
  EXPECT_EQ(encoded_size(descriptor, Compression::kFloat16).value(), 4160u * 2);
  EXPECT_EQ(encoded_size(descriptor, Compression::kBFloat16).value(), 4160u * 2);
  EXPECT_EQ(encoded_size(descriptor, Compression::kUniform8Bit).value(), 8u + 4160);
  EXPECT_EQ(encoded_size(descriptor, Compression::kBlockwise8Bit).value(), 2u * 4 + 4160);
}

}  // namespace
}  // namespace hive::net
