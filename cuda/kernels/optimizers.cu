// Optimizer updates for a whole list of parameters in a few multi-tensor launches
// (multi_tensor.cuh; f32 parameters, gradients and state, as engine/cpu/optimizers.cpp, whose
// formulas, PyTorch's, these mirror).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/multi_tensor.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

struct SgdLaunch {
  ChunkTable table;
  float* param[kTensorsPerLaunch];
  const float* grad[kTensorsPerLaunch];
  float* momentum[kTensorsPerLaunch];  // null where the tensor has no momentum buffer
};

struct AdamLaunch {
  ChunkTable table;
  float* param[kTensorsPerLaunch];
  const float* grad[kTensorsPerLaunch];
  float* exp_avg[kTensorsPerLaunch];
  float* exp_avg_sq[kTensorsPerLaunch];
  float* max_exp_avg_sq[kTensorsPerLaunch];  // null without amsgrad
};

// The per-step constants of Adam, computed once on the host as the CPU backend does.
struct AdamConstants {
  float beta1;
  float beta2;
  float eps;
  float l2;     // weight decay added to the gradient (Adam); 0 for AdamW
  float decay;  // factor the parameter shrinks by first (AdamW); 1 for Adam
  float step_size;
  float inv_sqrt_bias_correction2;
};

static_assert(sizeof(AdamLaunch) + sizeof(AdamConstants) <= 4096,
              "Adam's launch parameters exceed 4 KiB");

// __grid_constant__: the launch struct is read in place from the parameter space; indexing it by
// a runtime tensor slot would otherwise copy all of it into every thread's local memory.
__global__ void sgd_kernel(const __grid_constant__ SgdLaunch launch, const SgdHyper hyper) {
  const ChunkRange range = block_chunk(launch.table);
  float* param = launch.param[range.tensor];
  const float* grad = launch.grad[range.tensor];
  float* buffer = launch.momentum[range.tensor];
  const int64_t first = range.begin + threadIdx.x;
  if (buffer == nullptr) {
    for (int64_t i = first; i < range.end; i += blockDim.x) {
      param[i] -= hyper.lr * (grad[i] + hyper.weight_decay * param[i]);
    }
    return;
  }
  const float damped = 1.0f - hyper.dampening;
  for (int64_t i = first; i < range.end; i += blockDim.x) {
    const float d = grad[i] + hyper.weight_decay * param[i];
    const float b = hyper.first_step ? d : hyper.momentum * buffer[i] + damped * d;
    buffer[i] = b;
    param[i] -= hyper.lr * (hyper.nesterov ? d + hyper.momentum * b : b);
  }
}

template <bool kAmsGrad>
__global__ void adam_kernel(const __grid_constant__ AdamLaunch launch, const AdamConstants c) {
  const ChunkRange range = block_chunk(launch.table);
  float* param = launch.param[range.tensor];
  const float* grad = launch.grad[range.tensor];
  float* exp_avg = launch.exp_avg[range.tensor];
  float* exp_avg_sq = launch.exp_avg_sq[range.tensor];
  float* max_exp_avg_sq = launch.max_exp_avg_sq[range.tensor];
  for (int64_t i = range.begin + threadIdx.x; i < range.end; i += blockDim.x) {
    const float g = grad[i] + c.l2 * param[i];
    const float m = c.beta1 * exp_avg[i] + (1.0f - c.beta1) * g;
    const float v = c.beta2 * exp_avg_sq[i] + (1.0f - c.beta2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    float second_moment = v;
    if constexpr (kAmsGrad) {
      second_moment = fmaxf(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = second_moment;
    }
    const float denominator = sqrtf(second_moment) * c.inv_sqrt_bias_correction2 + c.eps;
    param[i] = param[i] * c.decay - c.step_size * m / denominator;
  }
}

void launch_sgd(const SgdLaunch& launch, const SgdHyper& hyper, cudaStream_t stream) {
  sgd_kernel<<<static_cast<unsigned int>(launch.table.chunks), kThreadsPerBlock, 0, stream>>>(
      launch, hyper);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <bool kAmsGrad>
void launch_adam(const AdamLaunch& launch, const AdamConstants& constants, cudaStream_t stream) {
  adam_kernel<kAmsGrad>
      <<<static_cast<unsigned int>(launch.table.chunks), kThreadsPerBlock, 0, stream>>>(
          launch, constants);
  HIVE_CUDA_CHECK_LAUNCH();
}

// The engine's optimizers keep parameters, gradients and state in f32 (engine/optim).
float* f32_data(const Tensor& tensor, int device) {
  HIVE_CHECK(tensor.dtype() == DType::kF32 && tensor.device() == Device::cuda(device),
             "optimizer step: a ", tensor.dtype(), " tensor on ", tensor.device(),
             " where f32 on cuda:", device, " was expected");
  return device_data<float>(tensor);
}

}  // namespace

void CudaBackend::sgd_step(std::span<const SgdTensors> tensors, const SgdHyper& hyper) {
  if (tensors.empty()) return;
  const int device = tensors.front().param.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  SgdLaunch launch{};
  for (const SgdTensors& t : tensors) {
    if (t.param.numel() == 0) continue;
    const int slot = add_tensor(launch.table, t.param.numel());
    launch.param[slot] = f32_data(t.param, device);
    launch.grad[slot] = f32_data(t.grad, device);
    launch.momentum[slot] = t.momentum.defined() ? f32_data(t.momentum, device) : nullptr;
    if (launch.table.count == kTensorsPerLaunch) {
      launch_sgd(launch, hyper, stream);
      launch = SgdLaunch{};
    }
  }
  if (launch.table.count > 0) launch_sgd(launch, hyper, stream);
}

void CudaBackend::adam_step(std::span<const AdamTensors> tensors, const AdamHyper& hyper) {
  if (tensors.empty()) return;
  const int device = tensors.front().param.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);

  const auto step = static_cast<double>(hyper.step);
  const auto bias_correction1 =
      static_cast<float>(1.0 - std::pow(static_cast<double>(hyper.beta1), step));
  const auto bias_correction2 =
      static_cast<float>(1.0 - std::pow(static_cast<double>(hyper.beta2), step));
  AdamConstants constants;
  constants.beta1 = hyper.beta1;
  constants.beta2 = hyper.beta2;
  constants.eps = hyper.eps;
  // AdamW shrinks the parameter before the update; Adam adds the decay to the gradient (L2).
  constants.l2 = hyper.decoupled_weight_decay ? 0.0f : hyper.weight_decay;
  constants.decay = hyper.decoupled_weight_decay ? 1.0f - hyper.lr * hyper.weight_decay : 1.0f;
  constants.step_size = hyper.lr / bias_correction1;
  constants.inv_sqrt_bias_correction2 = 1.0f / std::sqrt(bias_correction2);
  const auto launch_update = hyper.amsgrad ? launch_adam<true> : launch_adam<false>;

  AdamLaunch launch{};
  for (const AdamTensors& t : tensors) {
    if (t.param.numel() == 0) continue;
    const int slot = add_tensor(launch.table, t.param.numel());
    launch.param[slot] = f32_data(t.param, device);
    launch.grad[slot] = f32_data(t.grad, device);
    launch.exp_avg[slot] = f32_data(t.exp_avg, device);
    launch.exp_avg_sq[slot] = f32_data(t.exp_avg_sq, device);
    launch.max_exp_avg_sq[slot] = hyper.amsgrad ? f32_data(t.max_exp_avg_sq, device) : nullptr;
    if (launch.table.count == kTensorsPerLaunch) {
      launch_update(launch, constants, stream);
      launch = AdamLaunch{};
    }
  }
  if (launch.table.count > 0) launch_update(launch, constants, stream);
}

}  // namespace hive::cuda
