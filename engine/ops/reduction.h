// Reductions over one axis, or over all elements.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

enum class KeepDim : uint8_t { kNo, kYes };

Tensor sum(const Tensor& x, int axis, KeepDim keep = KeepDim::kNo);
Tensor mean(const Tensor& x, int axis, KeepDim keep = KeepDim::kNo);
// Maximum along the axis; the gradient flows to the first position of the maximum.
Tensor max(const Tensor& x, int axis, KeepDim keep = KeepDim::kNo);
// i64 indices of the first maximum along the axis (not differentiable).
Tensor argmax(const Tensor& x, int axis, KeepDim keep = KeepDim::kNo);

// Over all elements, to a scalar (rank 0).
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

}  // namespace hive
