// Checks a call's tensors against an expert's schema before any op sees them, so that a bad
// call from a peer gets an error naming the tensor and dimension at fault, never an abort or an
// engine error from deep inside the expert.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "engine/core/dtype.h"
#include "engine/core/shape.h"
#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "moe/experts/tensor_schema.h"

namespace hive::moe {

// Checks the count of `tensors`, then each one's dtype, rank and row shape, and that all have
// the same number of rows: `rows` when given, else the first tensor's. Returns that number.
// Errors start with `context` ("expert ffn.3.17") and call the tensors by `role` ("input",
// "output gradient"), e.g.
//   "expert ffn.3.17: input 0 has shape [8, 512], expected [*, 1024] (dimension 1)".
Result<int64_t> check_against_schema(std::string_view context, std::string_view role,
                                     std::span<const TensorSchema> schemas,
                                     std::span<const Tensor> tensors,
                                     std::optional<int64_t> rows = std::nullopt);

// What the check reads of a tensor. A server checks a call's tensors while they are still in
// their wire form, on the I/O thread, before any byte of them is decoded.
struct TensorSignature {
  DType dtype = DType::kF32;
  Shape shape;
};

// The same check on signatures, with the same errors.
Result<int64_t> check_against_schema(std::string_view context, std::string_view role,
                                     std::span<const TensorSchema> schemas,
                                     std::span<const TensorSignature> tensors,
                                     std::optional<int64_t> rows = std::nullopt);

}  // namespace hive::moe
