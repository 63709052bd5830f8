// Wire layouts (all little-endian, no padding):
//   kNone            the raw bytes
//   kFloat16         n IEEE halves (round to nearest even)
//   kBFloat16        n bfloat16s (round to nearest even; NaN stays NaN)
//   kUniform8Bit     f32 min | f32 scale | n u8 codes;         x ~ min + code * scale
//   kBlockwise8Bit   ceil(n / 4096) f32 absmax | n u8 codes;   x ~ (code - 128) / 127 * absmax
//                    (block b is elements [4096 b, 4096 (b + 1)); codes are 1..255)
// The 8-bit codecs read f32, f16 or bf16 sources through a 4096-float chunk, so a 16-bit tensor
// is never widened in full.
#include "net/codec/tensor_codec.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace hive::net {
namespace {

constexpr size_t kChunk = kBlockwise8BitBlock;  // one chunk = one blockwise block
constexpr size_t kUniformHeaderBytes = 2 * sizeof(float);
constexpr uint32_t kF32InfinityBits = 0x7F800000u;
constexpr float kF32Max = std::numeric_limits<float>::max();

using Chunk = std::array<float, kChunk>;

// ---------------------------------------------------------------------------------------------
// Errors

// "f32[64,64]"
std::string describe(const TensorDescriptor& descriptor) {
  std::string text(wire_dtype_name(descriptor.dtype));
  text += '[';
  for (size_t axis = 0; axis < descriptor.shape.size(); ++axis) {
    if (axis > 0) text += ',';
    text += std::to_string(descriptor.shape[axis]);
  }
  text += ']';
  return text;
}

Status invalid(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}

// "decode fp16: <message>"
Status with_operation(std::string_view operation, Compression compression, const Status& status) {
  return invalid(str_cat(operation, " ", compression_name(compression), ": ", status.message()));
}

Status wrong_size(std::string_view operation, Compression compression, std::string_view what,
                  uint64_t expected, size_t actual, const TensorDescriptor& descriptor) {
  return invalid(str_cat(operation, " ", compression_name(compression), ": expected ", expected, " ",
                         what, " bytes for ", describe(descriptor), ", got ", actual));
}

// ---------------------------------------------------------------------------------------------
// Sizes

struct Layout {
  uint64_t elements = 0;
  uint64_t raw_bytes = 0;
  uint64_t encoded_bytes = 0;
};

Status check_applies(WireDType dtype, Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return Status::ok();
    case Compression::kFloat16:
    case Compression::kBFloat16:
      if (dtype == WireDType::kF32) return Status::ok();
      return invalid(str_cat("compression ", compression_name(compression), " does not apply to ",
                             wire_dtype_name(dtype), " tensors (only f32)"));
    case Compression::kUniform8Bit:
    case Compression::kBlockwise8Bit:
      if (is_floating(dtype)) return Status::ok();
      return invalid(str_cat("compression ", compression_name(compression), " does not apply to ",
                             wire_dtype_name(dtype), " tensors (only f32, f16, bf16)"));
  }
  return invalid(str_cat("unknown compression ", static_cast<int>(compression)));
}

uint64_t block_count(uint64_t elements) {
  return elements / kBlockwise8BitBlock + (elements % kBlockwise8BitBlock != 0 ? 1 : 0);
}

// No sum below overflows: the 8-bit codecs take only dtypes of 2 or more bytes, so raw_size()
// succeeding bounds the element count by 2^63.
Result<Layout> layout_of(const TensorDescriptor& descriptor, Compression compression) {
  if (Status applies = check_applies(descriptor.dtype, compression); !applies.is_ok()) return applies;
  auto raw_bytes = descriptor.raw_size();
  if (!raw_bytes.is_ok()) return raw_bytes.status();
  Layout layout;
  layout.raw_bytes = raw_bytes.value();
  layout.elements = layout.raw_bytes / wire_dtype_size(descriptor.dtype);
  switch (compression) {
    case Compression::kNone: layout.encoded_bytes = layout.raw_bytes; break;
    case Compression::kFloat16:
    case Compression::kBFloat16: layout.encoded_bytes = 2 * layout.elements; break;
    case Compression::kUniform8Bit: layout.encoded_bytes = kUniformHeaderBytes + layout.elements; break;
    case Compression::kBlockwise8Bit:
      layout.encoded_bytes = sizeof(float) * block_count(layout.elements) + layout.elements;
      break;
  }
  return layout;
}

// ---------------------------------------------------------------------------------------------
// f32 <-> f16 and bf16. Byte pointers may be unaligned, so every access goes through memcpy
// or an unaligned load.

void copy_bytes(std::byte* dst, const std::byte* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);  // empty spans may carry null pointers
}

uint16_t f32_to_f16_bits(float value) {
  const auto half = static_cast<_Float16>(value);
  return std::bit_cast<uint16_t>(half);
}

float f16_bits_to_f32(uint16_t bits) { return static_cast<float>(std::bit_cast<_Float16>(bits)); }

// GCC 12 converts a single _Float16 with one F16C instruction but does not vectorize loops of
// them, so the bulk goes through the 8-wide F16C intrinsics; _Float16 handles the tail (and
// builds without F16C, through libgcc). Both round to nearest even.
void f32_to_f16(const std::byte* src, std::byte* dst, size_t count) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    const __m256 floats = _mm256_loadu_ps(reinterpret_cast<const float*>(src + 4 * i));
    const __m128i halves = _mm256_cvtps_ph(floats, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i_u*>(dst + 2 * i), halves);
  }
#endif
  for (; i < count; ++i) {
    float value;
    std::memcpy(&value, src + 4 * i, sizeof value);
    const uint16_t bits = f32_to_f16_bits(value);
    std::memcpy(dst + 2 * i, &bits, sizeof bits);
  }
}

void f16_to_f32(const std::byte* src, std::byte* dst, size_t count) {
  size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i_u*>(src + 2 * i));
    _mm256_storeu_ps(reinterpret_cast<float*>(dst + 4 * i), _mm256_cvtph_ps(halves));
  }
#endif
  for (; i < count; ++i) {
    uint16_t bits;
    std::memcpy(&bits, src + 2 * i, sizeof bits);
    const float value = f16_bits_to_f32(bits);
    std::memcpy(dst + 4 * i, &value, sizeof value);
  }
}

// Round to nearest even on the 16 dropped bits. A NaN is truncated instead, with the quiet bit
// set, because rounding could carry its payload into the exponent and make it an infinity.
uint16_t f32_bits_to_bf16_bits(uint32_t bits) {
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x0040u;
  const bool is_nan = (bits & 0x7FFFFFFFu) > kF32InfinityBits;
  return static_cast<uint16_t>(is_nan ? quiet_nan : rounded);
}

void f32_to_bf16(const std::byte* src, std::byte* dst, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, src + 4 * i, sizeof bits);
    const uint16_t half = f32_bits_to_bf16_bits(bits);
    std::memcpy(dst + 2 * i, &half, sizeof half);
  }
}

// bf16 is the top half of an f32: widening is exact.
void bf16_to_f32(const std::byte* src, std::byte* dst, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    uint16_t half;
    std::memcpy(&half, src + 2 * i, sizeof half);
    const uint32_t bits = static_cast<uint32_t>(half) << 16;
    std::memcpy(dst + 4 * i, &bits, sizeof bits);
  }
}

// `count` elements of a floating dtype at `src` into f32 at `dst`, and back.
void load_floats(WireDType dtype, const std::byte* src, size_t count, float* dst) {
  auto* out = reinterpret_cast<std::byte*>(dst);
  switch (dtype) {
    case WireDType::kF32: copy_bytes(out, src, count * sizeof(float)); return;
    case WireDType::kF16: f16_to_f32(src, out, count); return;
    case WireDType::kBF16: bf16_to_f32(src, out, count); return;
    default: HIVE_NET_CHECK(false, "load_floats of non-floating dtype ", wire_dtype_name(dtype));
  }
}

void store_floats(WireDType dtype, const float* src, size_t count, std::byte* dst) {
  const auto* in = reinterpret_cast<const std::byte*>(src);
  switch (dtype) {
    case WireDType::kF32: copy_bytes(dst, in, count * sizeof(float)); return;
    case WireDType::kF16: f32_to_f16(in, dst, count); return;
    case WireDType::kBF16: f32_to_bf16(in, dst, count); return;
    default: HIVE_NET_CHECK(false, "store_floats of non-floating dtype ", wire_dtype_name(dtype));
  }
}

float load_f32(const std::byte* src) {
  float value;
  std::memcpy(&value, src, sizeof value);
  return value;
}

void store_f32(std::byte* dst, float value) { std::memcpy(dst, &value, sizeof value); }

// ---------------------------------------------------------------------------------------------
// Reductions over a chunk. GCC 12 does not vectorize float min/max reductions (their NaN and
// signed-zero rules), so they run on the bit patterns as integers, which it does vectorize.

// max |x| as f32 bits: with the sign cleared, non-NaN floats order like their bits. A result of
// kF32InfinityBits or more means the chunk holds an infinity or a NaN.
uint32_t max_abs_bits(const float* values, size_t count) {
  uint32_t result = 0;
  for (size_t i = 0; i < count; ++i) {
    result = std::max(result, std::bit_cast<uint32_t>(values[i]) & 0x7FFFFFFFu);
  }
  return result;
}

// Maps non-NaN floats to int32s in the same order (negative floats have their magnitude bits
// flipped). Its own inverse.
int32_t ordered_key(int32_t bits) { return bits ^ ((bits >> 31) & 0x7FFFFFFF); }

struct KeyRange {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
};

void extend_key_range(const float* values, size_t count, KeyRange& range) {
  int32_t lo = range.lo;
  int32_t hi = range.hi;
  for (size_t i = 0; i < count; ++i) {
    const int32_t key = ordered_key(std::bit_cast<int32_t>(values[i]));
    lo = std::min(lo, key);
    hi = std::max(hi, key);
  }
  range = {lo, hi};
}

float key_to_float(int32_t key) { return std::bit_cast<float>(ordered_key(key)); }

Status non_finite_input(Compression compression, const TensorDescriptor& descriptor,
                        const float* chunk, size_t count, size_t chunk_begin) {
  const size_t index = static_cast<size_t>(
      std::find_if(chunk, chunk + count, [](float value) { return !std::isfinite(value); }) - chunk);
  HIVE_NET_CHECK(index < count, "non_finite_input on a finite chunk");
  return invalid(str_cat("encode ", compression_name(compression), ": ", describe(descriptor),
                         " has non-finite value ", chunk[index], " at element ", chunk_begin + index,
                         " (the 8-bit codecs take finite values only)"));
}

// ---------------------------------------------------------------------------------------------
// Uniform 8-bit: one (min, scale) for the whole tensor, code = round((x - min) / scale).

struct UniformParams {
  float min = 0;
  float scale = 0;  // 0 when every value equals min
};

UniformParams uniform_params(float lo, float hi) {
  // In double, hi - lo cannot overflow even for [-FLT_MAX, FLT_MAX].
  auto scale = static_cast<float>((static_cast<double>(hi) - lo) / 255.0);
  // Rounding may push min + 255 * scale past FLT_MAX, which the decoder rejects; one step down
  // brings it under (the code of hi is then clamped to 255).
  if (static_cast<double>(lo) + 255.0 * scale > kF32Max) scale = std::nextafter(scale, 0.0f);
  return {lo, scale};
}

void quantize_uniform(const float* values, size_t count, UniformParams params, uint8_t* codes) {
  if (params.scale == 0) {  // a constant tensor (or a range below f32 resolution): min is exact
    std::fill(codes, codes + count, uint8_t{0});
    return;
  }
  // In double, x - min cannot overflow (in f32 it does for ranges wider than FLT_MAX) and
  // 1 / scale is finite even for a subnormal scale.
  const double min = params.min;
  const double inverse_scale = 1.0 / params.scale;
  for (size_t i = 0; i < count; ++i) {
    // >= 0 since x >= min; the clamp catches 255 + rounding.
    const double position = std::min((values[i] - min) * inverse_scale, 255.0);
    codes[i] = static_cast<uint8_t>(static_cast<int32_t>(position + 0.5));
  }
}

// In double, code * scale is exact and min + code * scale rounds once, so a range as wide as
// [-FLT_MAX, FLT_MAX] decodes without an overflowing intermediate.
void dequantize_uniform(const uint8_t* codes, size_t count, UniformParams params, float* values) {
  const double min = params.min;
  const double scale = params.scale;
  for (size_t i = 0; i < count; ++i) {
    values[i] = static_cast<float>(min + static_cast<double>(codes[i]) * scale);
  }
}

Status encode_uniform8bit(const TensorDescriptor& descriptor, uint64_t elements,
                          const std::byte* raw, std::byte* encoded) {
  const size_t element_size = wire_dtype_size(descriptor.dtype);
  Chunk chunk;
  // Pass 1: the range (and the check that every value is finite).
  KeyRange range;
  for (size_t begin = 0; begin < elements; begin += kChunk) {
    const size_t count = std::min<size_t>(kChunk, elements - begin);
    load_floats(descriptor.dtype, raw + begin * element_size, count, chunk.data());
    if (max_abs_bits(chunk.data(), count) >= kF32InfinityBits) {
      return non_finite_input(Compression::kUniform8Bit, descriptor, chunk.data(), count, begin);
    }
    extend_key_range(chunk.data(), count, range);
  }
  const UniformParams params =
      elements == 0 ? UniformParams{} : uniform_params(key_to_float(range.lo), key_to_float(range.hi));
  store_f32(encoded, params.min);
  store_f32(encoded + sizeof(float), params.scale);
  // Pass 2: the codes.
  auto* codes = reinterpret_cast<uint8_t*>(encoded + kUniformHeaderBytes);
  for (size_t begin = 0; begin < elements; begin += kChunk) {
    const size_t count = std::min<size_t>(kChunk, elements - begin);
    load_floats(descriptor.dtype, raw + begin * element_size, count, chunk.data());
    quantize_uniform(chunk.data(), count, params, codes + begin);
  }
  return Status::ok();
}

// A peer's (min, scale) must be finite, scale >= 0, and the largest code must decode to a finite f32.
Status check_uniform_params(const TensorDescriptor& descriptor, UniformParams params) {
  if (!std::isfinite(params.min) || !std::isfinite(params.scale) || params.scale < 0) {
    return invalid(str_cat("decode uniform8bit: ", describe(descriptor), " has stored min ", params.min,
                           " and scale ", params.scale, " (both must be finite, scale >= 0)"));
  }
  const double top = static_cast<double>(params.min) + 255.0 * params.scale;
  if (top > kF32Max) {
    return invalid(str_cat("decode uniform8bit: ", describe(descriptor), " has stored min ", params.min,
                           " and scale ", params.scale, ": code 255 decodes to ", top,
                           ", beyond the f32 range"));
  }
  return Status::ok();
}

Status decode_uniform8bit(const TensorDescriptor& descriptor, uint64_t elements,
                          const std::byte* encoded, std::byte* raw) {
  const UniformParams params{load_f32(encoded), load_f32(encoded + sizeof(float))};
  if (Status valid = check_uniform_params(descriptor, params); !valid.is_ok()) return valid;
  const size_t element_size = wire_dtype_size(descriptor.dtype);
  const auto* codes = reinterpret_cast<const uint8_t*>(encoded + kUniformHeaderBytes);
  Chunk chunk;
  for (size_t begin = 0; begin < elements; begin += kChunk) {
    const size_t count = std::min<size_t>(kChunk, elements - begin);
    dequantize_uniform(codes + begin, count, params, chunk.data());
    store_floats(descriptor.dtype, chunk.data(), count, raw + begin * element_size);
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Blockwise 8-bit: per block of 4096, code = round(x / absmax * 127) + 128, in 1..255.

void quantize_block(const float* values, size_t count, float absmax, uint8_t* codes) {
  if (absmax == 0) {  // an all-zero block: code 128 decodes to exactly 0, without 0 / 0
    std::fill(codes, codes + count, uint8_t{128});
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    // x / absmax is in [-1, 1] (dividing, not multiplying by 127 / absmax, which overflows for
    // tiny absmax), so the sum is in [1.5, 255.5] and truncation rounds it half up.
    codes[i] = static_cast<uint8_t>(static_cast<int32_t>(values[i] / absmax * 127.0f + 128.5f));
  }
}

// (code - 128) / 127 has magnitude <= 1 for codes 1..255, so the product never exceeds absmax
// (a precomputed absmax / 127 could round 127 * step past FLT_MAX).
void dequantize_block(const uint8_t* codes, size_t count, float absmax, float* values) {
  for (size_t i = 0; i < count; ++i) {
    values[i] = (static_cast<float>(codes[i]) - 128.0f) / 127.0f * absmax;
  }
}

Status encode_blockwise8bit(const TensorDescriptor& descriptor, uint64_t elements,
                            const std::byte* raw, std::byte* encoded) {
  const size_t element_size = wire_dtype_size(descriptor.dtype);
  auto* codes = reinterpret_cast<uint8_t*>(encoded + sizeof(float) * block_count(elements));
  Chunk chunk;
  for (size_t begin = 0, block = 0; begin < elements; begin += kChunk, ++block) {
    const size_t count = std::min<size_t>(kChunk, elements - begin);
    load_floats(descriptor.dtype, raw + begin * element_size, count, chunk.data());
    const uint32_t absmax_bits = max_abs_bits(chunk.data(), count);
    if (absmax_bits >= kF32InfinityBits) {
      return non_finite_input(Compression::kBlockwise8Bit, descriptor, chunk.data(), count, begin);
    }
    const auto absmax = std::bit_cast<float>(absmax_bits);
    store_f32(encoded + sizeof(float) * block, absmax);
    quantize_block(chunk.data(), count, absmax, codes + begin);
  }
  return Status::ok();
}

// Code 0 is never written (it would decode past absmax, to infinity when absmax is near FLT_MAX).
Status check_block_codes(const TensorDescriptor& descriptor, const uint8_t* codes, size_t count,
                         size_t begin) {
  uint8_t lowest = 255;
  for (size_t i = 0; i < count; ++i) lowest = std::min(lowest, codes[i]);
  if (lowest > 0) return Status::ok();
  const size_t index = static_cast<size_t>(std::find(codes, codes + count, uint8_t{0}) - codes);
  return invalid(str_cat("decode blockwise8bit: ", describe(descriptor), " has code 0 at element ",
                         begin + index, " (codes are 1..255)"));
}

Status decode_blockwise8bit(const TensorDescriptor& descriptor, uint64_t elements,
                            const std::byte* encoded, std::byte* raw) {
  const uint64_t blocks = block_count(elements);
  // Every absmax first, so that a bad header is caught before any output is written.
  for (uint64_t block = 0; block < blocks; ++block) {
    const float absmax = load_f32(encoded + sizeof(float) * block);
    if (!std::isfinite(absmax) || absmax < 0) {
      return invalid(str_cat("decode blockwise8bit: ", describe(descriptor), " has stored absmax ",
                             absmax, " for block ", block, " of ", blocks,
                             " (must be finite and >= 0)"));
    }
  }
  const size_t element_size = wire_dtype_size(descriptor.dtype);
  const auto* codes = reinterpret_cast<const uint8_t*>(encoded + sizeof(float) * blocks);
  Chunk chunk;
  for (size_t begin = 0, block = 0; begin < elements; begin += kChunk, ++block) {
    const size_t count = std::min<size_t>(kChunk, elements - begin);
    if (Status valid = check_block_codes(descriptor, codes + begin, count, begin); !valid.is_ok()) {
      return valid;
    }
    dequantize_block(codes + begin, count, load_f32(encoded + sizeof(float) * block), chunk.data());
    store_floats(descriptor.dtype, chunk.data(), count, raw + begin * element_size);
  }
  return Status::ok();
}

// Shared by encode and decode: the layout, and both spans at their exact sizes.
Result<Layout> checked_layout(std::string_view operation, const TensorDescriptor& descriptor,
                              Compression compression, size_t raw_bytes, size_t encoded_bytes) {
  auto layout = layout_of(descriptor, compression);
  if (!layout.is_ok()) return with_operation(operation, compression, layout.status());
  if (layout.value().encoded_bytes != encoded_bytes) {
    return wrong_size(operation, compression, "encoded", layout.value().encoded_bytes, encoded_bytes,
                      descriptor);
  }
  if (layout.value().raw_bytes != raw_bytes) {
    return wrong_size(operation, compression, "raw", layout.value().raw_bytes, raw_bytes, descriptor);
  }
  return layout;
}

}  // namespace

Result<uint64_t> encoded_size(const TensorDescriptor& descriptor, Compression compression) {
  auto layout = layout_of(descriptor, compression);
  if (!layout.is_ok()) return layout.status();
  return layout.value().encoded_bytes;
}

Status encode_tensor(const TensorDescriptor& descriptor, std::span<const std::byte> raw,
                     Compression compression, std::span<std::byte> encoded) {
  auto layout = checked_layout("encode", descriptor, compression, raw.size(), encoded.size());
  if (!layout.is_ok()) return layout.status();
  const uint64_t elements = layout.value().elements;
  switch (compression) {
    case Compression::kNone: copy_bytes(encoded.data(), raw.data(), raw.size()); break;
    case Compression::kFloat16: f32_to_f16(raw.data(), encoded.data(), elements); break;
    case Compression::kBFloat16: f32_to_bf16(raw.data(), encoded.data(), elements); break;
    case Compression::kUniform8Bit:
      return encode_uniform8bit(descriptor, elements, raw.data(), encoded.data());
    case Compression::kBlockwise8Bit:
      return encode_blockwise8bit(descriptor, elements, raw.data(), encoded.data());
  }
  return Status::ok();
}

Status decode_tensor(const TensorDescriptor& descriptor, Compression compression,
                     std::span<const std::byte> encoded, std::span<std::byte> raw) {
  auto layout = checked_layout("decode", descriptor, compression, raw.size(), encoded.size());
  if (!layout.is_ok()) return layout.status();
  const uint64_t elements = layout.value().elements;
  switch (compression) {
    case Compression::kNone: copy_bytes(raw.data(), encoded.data(), encoded.size()); break;
    case Compression::kFloat16: f16_to_f32(encoded.data(), raw.data(), elements); break;
    case Compression::kBFloat16: bf16_to_f32(encoded.data(), raw.data(), elements); break;
    case Compression::kUniform8Bit:
      return decode_uniform8bit(descriptor, elements, encoded.data(), raw.data());
    case Compression::kBlockwise8Bit:
      return decode_blockwise8bit(descriptor, elements, encoded.data(), raw.data());
  }
  return Status::ok();
}

}  // namespace hive::net
