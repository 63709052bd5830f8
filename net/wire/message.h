// A message as the application sees it: opaque metadata bytes (the application's own
// FlatBuffer, for instance) plus tensors already in their wire encoding. Received tensors point
// into the receive buffer, which `owner` keeps alive; tensors to send point into the caller's
// memory, kept alive the same way until the bytes are on the socket.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "net/core/status.h"
#include "net/wire/tensor_descriptor.h"

namespace hive::net {

struct WireTensor {
  TensorDescriptor descriptor;
  Compression compression = Compression::kNone;
  std::span<const std::byte> bytes;  // encoded bytes
  std::shared_ptr<const void> owner;
};

struct Message {
  std::vector<std::byte> metadata;
  std::vector<WireTensor> tensors;
};

// Encodes `raw` (descriptor.raw_size() bytes) with `compression`. With kNone the result points
// at `raw` itself and shares `raw_owner`: nothing is copied.
Result<WireTensor> make_wire_tensor(TensorDescriptor descriptor, std::span<const std::byte> raw,
                                    std::shared_ptr<const void> raw_owner,
                                    Compression compression);
// A tensor that owns a copy of `raw` (tests, small messages).
Result<WireTensor> copy_wire_tensor(TensorDescriptor descriptor, std::span<const std::byte> raw,
                                    Compression compression = Compression::kNone);
// Decodes a received tensor into freshly allocated raw bytes.
Result<std::vector<std::byte>> decode_wire_tensor(const WireTensor& tensor);

}  // namespace hive::net
