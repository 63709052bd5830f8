// Optimizer updates, one pass over each parameter (f32 parameters and state, as PyTorch's
// formulas; see engine/optim for the semantics).
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace hive {

void CpuBackend::sgd_step(std::span<const SgdTensors> tensors, const SgdHyper& hyper) {
  for (const SgdTensors& t : tensors) {
    float* param = t.param.data<float>();
    const float* grad = t.grad.data<float>();
    float* buffer = t.momentum.defined() ? t.momentum.data<float>() : nullptr;
    cpu::parallel_for(t.param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float d = grad[i] + hyper.weight_decay * param[i];
        if (buffer != nullptr) {
          buffer[i] = hyper.first_step ? d : hyper.momentum * buffer[i] + (1.0f - hyper.dampening) * d;
          d = hyper.nesterov ? d + hyper.momentum * buffer[i] : buffer[i];
        }
        param[i] -= hyper.lr * d;
      }
    });
  }
}

void CpuBackend::adam_step(std::span<const AdamTensors> tensors, const AdamHyper& hyper) {
  const auto step = static_cast<double>(hyper.step);
  const auto bias_correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(hyper.beta1), step));
  const auto bias_correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(hyper.beta2), step));
  const float step_size = hyper.lr / bias_correction1;
  const float inv_sqrt_bias_correction2 = 1.0f / std::sqrt(bias_correction2);
  const float decay = hyper.decoupled_weight_decay ? 1.0f - hyper.lr * hyper.weight_decay : 1.0f;
  const float l2 = hyper.decoupled_weight_decay ? 0.0f : hyper.weight_decay;
  for (const AdamTensors& t : tensors) {
    float* param = t.param.data<float>();
    const float* grad = t.grad.data<float>();
    float* exp_avg = t.exp_avg.data<float>();
    float* exp_avg_sq = t.exp_avg_sq.data<float>();
    float* max_exp_avg_sq = hyper.amsgrad ? t.max_exp_avg_sq.data<float>() : nullptr;
    cpu::parallel_for(t.param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float g = grad[i] + l2 * param[i];
        param[i] *= decay;
        exp_avg[i] = hyper.beta1 * exp_avg[i] + (1.0f - hyper.beta1) * g;
        exp_avg_sq[i] = hyper.beta2 * exp_avg_sq[i] + (1.0f - hyper.beta2) * g * g;
        float second_moment = exp_avg_sq[i];
        if (max_exp_avg_sq != nullptr) {
          max_exp_avg_sq[i] = std::max(max_exp_avg_sq[i], second_moment);
          second_moment = max_exp_avg_sq[i];
        }
        const float denominator = std::sqrt(second_moment) * inv_sqrt_bias_correction2 + hyper.eps;
        param[i] -= step_size * exp_avg[i] / denominator;
      }
    });
  }
}

}  // namespace hive
