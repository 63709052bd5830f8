#include "moe/protocol/tensor_wire.h"

#include <cstdint>

#include "net/codec/tensor_codec.h"

namespace hive::moe {

// Spelled out both ways, so a reordering of either enum cannot silently change the wire.
net::WireDType to_wire_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return net::WireDType::kF32;
    case DType::kF16: return net::WireDType::kF16;
    case DType::kBF16: return net::WireDType::kBF16;
    case DType::kI32: return net::WireDType::kI32;
    case DType::kI64: return net::WireDType::kI64;
    case DType::kU8: return net::WireDType::kU8;
  }
  HIVE_CHECK(false, "unknown dtype ", static_cast<int>(dtype));
}

DType from_wire_dtype(net::WireDType dtype) {
  switch (dtype) {
    case net::WireDType::kF32: return DType::kF32;
    case net::WireDType::kF16: return DType::kF16;
    case net::WireDType::kBF16: return DType::kBF16;
    case net::WireDType::kI32: return DType::kI32;
    case net::WireDType::kI64: return DType::kI64;
    case net::WireDType::kU8: return DType::kU8;
  }
  // net checks every dtype of a received frame against its enum before handing it over.
  HIVE_CHECK(false, "unknown wire dtype ", static_cast<int>(dtype));
}

net::Compression compression_for(DType dtype, net::Compression wanted) {
  if (!is_floating(dtype)) return net::Compression::kNone;
  const bool to_16_bits =
      wanted == net::Compression::kFloat16 || wanted == net::Compression::kBFloat16;
  if (to_16_bits && dtype != DType::kF32) return net::Compression::kNone;
  return wanted;
}

Result<net::WireTensor> to_wire_tensor(const Tensor& tensor, net::Compression compression) {
  const Tensor host = tensor.to(Device::cpu());
  net::TensorDescriptor descriptor{to_wire_dtype(host.dtype()),
                                   {host.shape().begin(), host.shape().end()}};
  const std::span<const std::byte> raw(static_cast<const std::byte*>(host.raw_data()),
                                       host.nbytes());
  // The handle keeps the storage alive until the bytes are on the socket.
  auto owner = std::make_shared<const Tensor>(host);
  net::Result<net::WireTensor> wire = net::make_wire_tensor(
      std::move(descriptor), raw, std::move(owner), compression_for(host.dtype(), compression));
  if (!wire.is_ok()) {
    return Status::error(str_cat("tensor ", host.dtype(), " ", host.shape(), " to the wire: ",
                                 wire.status().message()));
  }
  return std::move(wire).value();
}

Result<TensorSignature> wire_signature(const net::WireTensor& tensor, size_t position) {
  const std::vector<int64_t>& dims = tensor.descriptor.shape;
  if (dims.size() > static_cast<size_t>(Shape::kMaxRank)) {
    return Status::error(str_cat("tensor ", position, " has rank ", dims.size(),
                                 ", expected at most ", Shape::kMaxRank));
  }
  return TensorSignature{from_wire_dtype(tensor.descriptor.dtype), Shape(std::span(dims))};
}

Result<Tensor> from_wire_tensor(const net::WireTensor& wire) {
  Result<TensorSignature> signature = wire_signature(wire, 0);
  if (!signature.is_ok()) return signature.status();
  const auto& [dtype, shape] = signature.value();
  const auto address = reinterpret_cast<uintptr_t>(wire.bytes.data());
  if (wire.compression == net::Compression::kNone && wire.owner != nullptr &&
      address % dtype_size(dtype) == 0 &&
      wire.bytes.size() == static_cast<size_t>(shape.numel()) * dtype_size(dtype)) {
    // Nothing else writes to a received buffer: the tensor may view it in place.
    return Tensor::from_blob(const_cast<std::byte*>(wire.bytes.data()), shape, dtype,
                             std::const_pointer_cast<void>(wire.owner));
  }
  Tensor tensor = Tensor::empty(shape, dtype);
  const net::Status decoded = net::decode_tensor(
      wire.descriptor, wire.compression, wire.bytes,
      std::span(static_cast<std::byte*>(tensor.raw_data()), tensor.nbytes()));
  if (!decoded.is_ok()) {
    return Status::error(str_cat("tensor ", dtype, " ", shape, " from the wire: ",
                                 decoded.message()));
  }
  return tensor;
}

}  // namespace hive::moe
