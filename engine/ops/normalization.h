// Layer normalization over the last axis.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

// (x - mean) / sqrt(var + eps) * weight + bias over the last axis of x [..., c]; weight and bias
// are [c] (either may be undefined: no scale / no shift). Statistics are computed in f32.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

}  // namespace hive
