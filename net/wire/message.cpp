#include "net/wire/message.h"

#include <cstring>

#include "net/codec/tensor_codec.h"

namespace hive::net {

Result<WireTensor> make_wire_tensor(TensorDescriptor descriptor, std::span<const std::byte> raw,
                                    std::shared_ptr<const void> raw_owner,
                                    Compression compression) {
  auto raw_size = descriptor.raw_size();
  if (!raw_size.is_ok()) return raw_size.status();
  if (raw.size() != raw_size.value()) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("wire tensor ", wire_dtype_name(descriptor.dtype), " needs ",
                          raw_size.value(), " raw bytes, got ", raw.size()));
  }
  if (compression == Compression::kNone) {
    return WireTensor{std::move(descriptor), compression, raw, std::move(raw_owner)};
  }
  auto size = encoded_size(descriptor, compression);
  if (!size.is_ok()) return size.status();
  auto encoded = std::make_shared<std::vector<std::byte>>(size.value());
  Status status = encode_tensor(descriptor, raw, compression, *encoded);
  if (!status.is_ok()) return status;
  std::span<const std::byte> bytes(*encoded);
  return WireTensor{std::move(descriptor), compression, bytes, std::move(encoded)};
}

Result<WireTensor> copy_wire_tensor(TensorDescriptor descriptor, std::span<const std::byte> raw,
                                    Compression compression) {
  auto copy = std::make_shared<std::vector<std::byte>>(raw.begin(), raw.end());
  std::span<const std::byte> bytes(*copy);
  return make_wire_tensor(std::move(descriptor), bytes, std::move(copy), compression);
}

Result<std::vector<std::byte>> decode_wire_tensor(const WireTensor& tensor) {
  auto raw_size = tensor.descriptor.raw_size();
  if (!raw_size.is_ok()) return raw_size.status();
  std::vector<std::byte> raw(raw_size.value());
  Status status = decode_tensor(tensor.descriptor, tensor.compression, tensor.bytes, raw);
  if (!status.is_ok()) return status;
  return raw;
}

}  // namespace hive::net
