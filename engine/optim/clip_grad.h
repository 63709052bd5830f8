// Gradient-norm clipping, as torch.nn.utils.clip_grad_norm_.
#pragma once

#include <span>

#include "engine/core/tensor.h"

namespace hive::optim {

// Scales every defined gradient of `params` in place so that their joint L2 norm is at most
// max_norm (factor max_norm / (norm + 1e-6), applied only when below 1). Returns the norm before
// clipping; a non-finite norm is returned as is and the gradients are left alone, so the caller
// can skip the step.
float clip_grad_norm(std::span<const Tensor> params, float max_norm);

}  // namespace hive::optim
