// What net knows of a tensor: its element type, its shape and how its bytes are compressed on the
// wire. net never does math on tensors; moe converts engine tensors to and from these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "net/core/status.h"

namespace hive::net {

// Values match the FlatBuffers enum `hive.net.wire.DType` (net/schema/frame.fbs).
enum class WireDType : uint8_t { kF32 = 0, kF16 = 1, kBF16 = 2, kI32 = 3, kI64 = 4, kU8 = 5 };
// Values match `hive.net.wire.Compression`.
enum class Compression : uint8_t {
  kNone = 0,
  kFloat16 = 1,        // f32 -> IEEE half
  kBFloat16 = 2,       // f32 -> bfloat16 (round to nearest even)
  kUniform8Bit = 3,    // one (min, scale) pair for the whole tensor, 8-bit codes
  kBlockwise8Bit = 4,  // absmax per block of kBlockwise8BitBlock elements, 8-bit codes
};

inline constexpr size_t kBlockwise8BitBlock = 4096;

size_t wire_dtype_size(WireDType dtype);
std::string_view wire_dtype_name(WireDType dtype);
std::string_view compression_name(Compression compression);
bool is_floating(WireDType dtype);
std::optional<WireDType> wire_dtype_from_wire(uint8_t value);
std::optional<Compression> compression_from_wire(uint8_t value);

struct TensorDescriptor {
  WireDType dtype = WireDType::kF32;
  std::vector<int64_t> shape;

  // The element count, or an error when a dimension is negative or the product overflows
  // (shapes come from peers, so they are checked before anything is allocated).
  Result<uint64_t> element_count() const;
  // element_count() * wire_dtype_size(dtype): the bytes of the uncompressed tensor.
  Result<uint64_t> raw_size() const;
};

}  // namespace hive::net
