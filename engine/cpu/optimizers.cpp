// Optimizer updates, one pass over each parameter (f32 parameters and state, as PyTorch's
// formulas; see engine/optim for the semantics).
#include <cmath>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace hive {

namespace {

// Hyperparameters are passed by value and pointers marked __restrict so the compiler knows the
// stores into the parameter cannot change them: that is what lets these loops vectorize.
template <bool kAmsGrad>
void adam_update(float* __restrict param, const float* __restrict grad, float* __restrict exp_avg,
                 float* __restrict exp_avg_sq, float* __restrict max_exp_avg_sq, int64_t begin,
                 int64_t end, float beta1, float beta2, float eps, float l2, float decay,
                 float step_size, float inv_sqrt_bias_correction2) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i] + l2 * param[i];
    const float m = beta1 * exp_avg[i] + (1.0f - beta1) * g;
    const float v = beta2 * exp_avg_sq[i] + (1.0f - beta2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    float second_moment = v;
    if constexpr (kAmsGrad) {
      second_moment = std::max(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = second_moment;
    }
    const float denominator = std::sqrt(second_moment) * inv_sqrt_bias_correction2 + eps;
    param[i] = param[i] * decay - step_size * m / denominator;
  }
}

void sgd_update(float* __restrict param, const float* __restrict grad, float* __restrict buffer,
                int64_t begin, int64_t end, SgdHyper hyper) {
  const float lr = hyper.lr;
  const float weight_decay = hyper.weight_decay;
  const float momentum = hyper.momentum;
  const float damped = 1.0f - hyper.dampening;
  if (buffer == nullptr) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) param[i] -= lr * (grad[i] + weight_decay * param[i]);
    return;
  }
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float d = grad[i] + weight_decay * param[i];
    const float b = hyper.first_step ? d : momentum * buffer[i] + damped * d;
    buffer[i] = b;
    param[i] -= lr * (hyper.nesterov ? d + momentum * b : b);
  }
}

}  // namespace

void CpuBackend::sgd_step(std::span<const SgdTensors> tensors, const SgdHyper& hyper) {
  for (const SgdTensors& t : tensors) {
    float* param = t.param.data<float>();
    const float* grad = t.grad.data<float>();
    float* buffer = t.momentum.defined() ? t.momentum.data<float>() : nullptr;
    cpu::parallel_for(t.param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      sgd_update(param, grad, buffer, begin, end, hyper);
    });
  }
}

void CpuBackend::adam_step(std::span<const AdamTensors> tensors, const AdamHyper& hyper) {
  const auto step = static_cast<double>(hyper.step);
  const auto bias_correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(hyper.beta1), step));
  const auto bias_correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(hyper.beta2), step));
  const float step_size = hyper.lr / bias_correction1;
  const float inv_sqrt_bias_correction2 = 1.0f / std::sqrt(bias_correction2);
  // AdamW shrinks the parameter before the update; Adam adds the decay to the gradient (L2).
  const float decay = hyper.decoupled_weight_decay ? 1.0f - hyper.lr * hyper.weight_decay : 1.0f;
  const float l2 = hyper.decoupled_weight_decay ? 0.0f : hyper.weight_decay;
  for (const AdamTensors& t : tensors) {
    float* param = t.param.data<float>();
    const float* grad = t.grad.data<float>();
    float* exp_avg = t.exp_avg.data<float>();
    float* exp_avg_sq = t.exp_avg_sq.data<float>();
    float* max_exp_avg_sq = hyper.amsgrad ? t.max_exp_avg_sq.data<float>() : nullptr;
    cpu::parallel_for(t.param.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      const auto update = hyper.amsgrad ? adam_update<true> : adam_update<false>;
      update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, begin, end, hyper.beta1,
             hyper.beta2, hyper.eps, l2, decay, step_size, inv_sqrt_bias_correction2);
    });
  }
}

}  // namespace hive
