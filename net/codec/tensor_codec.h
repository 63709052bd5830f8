// The tensor wire codec: turns a tensor's raw bytes into their compressed wire form and back.
// Works on a TensorDescriptor plus byte spans, so net stays independent of the engine.
//
// Which compressions apply to which dtype:
//   kNone            any dtype, bytes unchanged
//   kFloat16         f32 source only (an f16 source is sent with kNone)
//   kBFloat16        f32 source only
//   kUniform8Bit     f32, f16, bf16 sources
//   kBlockwise8Bit   f32, f16, bf16 sources
// Anything else is kInvalidArgument naming the dtype and the compression.
#pragma once

#include <cstddef>
#include <span>

#include "net/core/status.h"
#include "net/wire/tensor_descriptor.h"

namespace hive::net {

// Bytes of `descriptor`'s tensor once encoded with `compression` (errors: bad shape, a
// compression that does not apply to the dtype).
Result<uint64_t> encoded_size(const TensorDescriptor& descriptor, Compression compression);

// `raw` holds descriptor.raw_size() bytes (native little-endian elements); `encoded` receives
// exactly encoded_size() bytes. Non-finite inputs are rejected for the 8-bit codecs.
Status encode_tensor(const TensorDescriptor& descriptor, std::span<const std::byte> raw,
                     Compression compression, std::span<std::byte> encoded);

// The inverse; `encoded` comes from a peer, so every size and every stored scale is checked:
// a wrong length or a non-finite scale is kInvalidArgument, never a crash.
Status decode_tensor(const TensorDescriptor& descriptor, Compression compression,
                     std::span<const std::byte> encoded, std::span<std::byte> raw);

}  // namespace hive::net
