// Engine tensors to and from net's wire tensors (net knows nothing of the engine, so moe
// converts). dtypes map one to one (f32, f16, bf16, i32, i64, u8).
//
// Compression is chosen per tensor role by the caller (activations, gradients, parameters) and
// applies to floating tensors only: integer tensors (indices, masks) always travel as they are,
// and kFloat16 / kBFloat16 apply to f32 sources only (an f16 tensor is already 16 bits).
#pragma once

#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "moe/experts/schema_check.h"
#include "net/wire/message.h"

namespace hive::moe {

net::WireDType to_wire_dtype(DType dtype);
DType from_wire_dtype(net::WireDType dtype);

// The compression that `wanted` amounts to for a tensor of `dtype` (kNone where it does not
// apply, see above).
net::Compression compression_for(DType dtype, net::Compression wanted);

// `tensor` in its wire form. Uncompressed CPU tensors are not copied: the wire tensor points at
// the tensor's bytes and keeps its storage alive. Tensors on another device are copied to the
// CPU first. Errors come from the codec (an 8-bit compression of non-finite values).
Result<net::WireTensor> to_wire_tensor(const Tensor& tensor, net::Compression compression);

// What the schema check needs of a received tensor, read from its descriptor alone (nothing is
// decoded): errors name `position` when the rank exceeds what the engine supports.
Result<TensorSignature> wire_signature(const net::WireTensor& tensor, size_t position);

// A received tensor as a CPU engine tensor. Uncompressed, suitably aligned bytes are viewed in
// place (the tensor keeps the receive buffer alive); anything else is decoded into a new
// tensor. Every size is checked by the codec, so a malformed tensor is an error, never a crash.
Result<Tensor> from_wire_tensor(const net::WireTensor& tensor);

}  // namespace hive::moe
