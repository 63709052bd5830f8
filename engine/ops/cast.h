// Casting many tensors at once.
#pragma once

#include <span>
#include <vector>

#include "engine/core/tensor.h"

namespace hive {

// Each tensor as `dtype` (Tensor::to for the whole list, in one backend call: one or a few
// launches on a device instead of one per tensor). Undefined tensors stay undefined and tensors
// already of `dtype` come back as they are. The tensors to cast must share one device.
// Differentiable where both dtypes are floating: gradients are cast back to each source's dtype,
// again in one call.
std::vector<Tensor> to_dtype(std::span<const Tensor> tensors, DType dtype);

}  // namespace hive
