// Layer normalization over the last axis, forward and backward, mirroring engine/cpu/layer_norm.cpp.
// x is seen as [rows, features]. Rows are independent: one block per row (a single warp for short
// rows) with block reductions. The weight and bias gradients are sums over rows, done without
// atomics so they are fully written and the same on every run: per chunk of rows, one thread per
// feature sums its column into a partial; a second kernel adds the chunks' partials in order.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "engine/core/dtype_dispatch.h"

namespace hive::cuda {
namespace {

// Rows of x seen as [rows, features]; 0 when features is 0, as on the CPU.
int64_t row_count(const Tensor& x, int64_t features) {
  return features == 0 ? 0 : x.numel() / features;
}

template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* weight, const T* bias, float eps,
                                  int64_t rows, int64_t features, T* out, float* mean,
                                  float* rstd) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* line = x + row * features;
    // Two passes (mean, then squared deviations): stable for rows with a large mean.
    float total = 0.0f;
    for (int64_t c = threadIdx.x; c < features; c += blockDim.x) total += load(line[c]);
    const float mu = block_sum(total, scratch) / static_cast<float>(features);
    float squares = 0.0f;
    for (int64_t c = threadIdx.x; c < features; c += blockDim.x) {
      const float d = load(line[c]) - mu;
      squares += d * d;
    }
    squares = block_sum(squares, scratch);
    const float inv_std = 1.0f / sqrtf(squares / static_cast<float>(features) + eps);
    if (threadIdx.x == 0) {
      mean[row] = mu;
      rstd[row] = inv_std;
    }
    T* target = out + row * features;
    for (int64_t c = threadIdx.x; c < features; c += blockDim.x) {
      float v = (load(line[c]) - mu) * inv_std;
      if (weight != nullptr) v *= load(weight[c]);
      if (bias != nullptr) v += load(bias[c]);
      target[c] = store<T>(v);
    }
  }
}

// With xhat = (x - mean) * rstd and g = grad_out * weight (grad_out without a weight):
//   grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat))
template <typename T>
__global__ void layer_norm_grad_x_kernel(const T* grad_out, const T* x, const T* weight,
                                         const float* mean, const float* rstd, int64_t rows,
                                         int64_t features, T* grad_x) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* g_line = grad_out + row * features;
    const T* x_line = x + row * features;
    const float mu = mean[row];
    const float inv_std = rstd[row];
    float sum_g = 0.0f;
    float sum_g_xhat = 0.0f;
    for (int64_t c = threadIdx.x; c < features; c += blockDim.x) {
      const float xhat = (load(x_line[c]) - mu) * inv_std;
      const float dy = load(g_line[c]);
      const float g = weight != nullptr ? dy * load(weight[c]) : dy;
      sum_g += g;
      sum_g_xhat += g * xhat;
    }
    const float mean_g = block_sum(sum_g, scratch) / static_cast<float>(features);
    const float mean_g_xhat = block_sum(sum_g_xhat, scratch) / static_cast<float>(features);
    T* dx_line = grad_x + row * features;
    for (int64_t c = threadIdx.x; c < features; c += blockDim.x) {
      const float xhat = (load(x_line[c]) - mu) * inv_std;
      const float dy = load(g_line[c]);
      const float g = weight != nullptr ? dy * load(weight[c]) : dy;
      dx_line[c] = store<T>(inv_std * (g - mean_g - xhat * mean_g_xhat));
    }
  }
}

// Rows per chunk of the weight and bias partial sums: at least this many, so there are few
// partials to add up afterwards...
constexpr int64_t kMinRowsPerChunk = 32;
// ...and enough chunks x features threads to fill the device (132 SMs x 2048 threads).
constexpr int64_t kPartialThreads = 132 * 2048;
constexpr int64_t kMaxChunks = 65535;  // the grid's y limit

int64_t param_chunks(int64_t rows, int64_t features) {
  if (rows == 0) return 0;
  const int64_t by_rows = (rows + kMinRowsPerChunk - 1) / kMinRowsPerChunk;
  const int64_t by_threads = (kPartialThreads + features - 1) / features;
  return std::clamp<int64_t>(std::min(by_rows, by_threads), 1, kMaxChunks);
}

// Block (x, y) covers features [x * blockDim.x, ...) over the rows of chunk y. partials holds
// [chunks, features] sums of grad_out * xhat (for grad_weight), then [chunks, features] sums of
// grad_out (for grad_bias).
template <typename T>
__global__ void layer_norm_param_partials_kernel(const T* grad_out, const T* x, const float* mean,
                                                 const float* rstd, int64_t rows,
                                                 int64_t features, int64_t rows_per_chunk,
                                                 float* partials) {
  const int64_t column = global_thread_index();
  if (column >= features) return;
  const int64_t chunk = blockIdx.y;
  const int64_t row_end = std::min(rows, (chunk + 1) * rows_per_chunk);
  float sum_dy_xhat = 0.0f;
  float sum_dy = 0.0f;
  for (int64_t row = chunk * rows_per_chunk; row < row_end; ++row) {
    const int64_t at = row * features + column;
    const float xhat = (load(x[at]) - mean[row]) * rstd[row];
    const float dy = load(grad_out[at]);
    sum_dy_xhat += dy * xhat;
    sum_dy += dy;
  }
  const int64_t chunks = gridDim.y;
  partials[chunk * features + column] = sum_dy_xhat;
  partials[(chunks + chunk) * features + column] = sum_dy;
}

// grad_weight[c] and grad_bias[c] (either may be null) = the sums of their `chunks` partials,
// added in chunk order. Without chunks (no rows) both are 0.
template <typename T>
__global__ void sum_param_partials_kernel(const float* partials, int64_t chunks, int64_t features,
                                          T* grad_weight, T* grad_bias) {
  for (int64_t column = global_thread_index(); column < features; column += grid_thread_count()) {
    float weight_total = 0.0f;
    float bias_total = 0.0f;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      weight_total += partials[chunk * features + column];
      bias_total += partials[(chunks + chunk) * features + column];
    }
    if (grad_weight != nullptr) grad_weight[column] = store<T>(weight_total);
    if (grad_bias != nullptr) grad_bias[column] = store<T>(bias_total);
  }
}

template <typename T>
const T* optional_data(const Tensor& tensor) {
  return tensor.defined() ? device_data<const T>(tensor) : nullptr;
}

template <typename T>
void launch_layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                       const Tensor& out, const Tensor& mean, const Tensor& rstd, int64_t rows,
                       int64_t features, cudaStream_t stream) {
  layer_norm_kernel<T><<<row_blocks(rows), row_threads(features), 0, stream>>>(
      device_data<const T>(x), optional_data<T>(weight), optional_data<T>(bias), eps, rows,
      features, device_data<T>(out), device_data<float>(mean), device_data<float>(rstd));
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_layer_norm_grad_x(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                              const Tensor& mean, const Tensor& rstd, const Tensor& grad_x,
                              int64_t rows, int64_t features, cudaStream_t stream) {
  layer_norm_grad_x_kernel<T><<<row_blocks(rows), row_threads(features), 0, stream>>>(
      device_data<const T>(grad_out), device_data<const T>(x), optional_data<T>(weight),
      device_data<const float>(mean), device_data<const float>(rstd), rows, features,
      device_data<T>(grad_x));
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_layer_norm_param_grads(const Tensor& grad_out, const Tensor& x, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& grad_weight,
                                   const Tensor& grad_bias, int64_t rows, int64_t features,
                                   cudaStream_t stream) {
  const int64_t chunks = param_chunks(rows, features);
  const std::shared_ptr<std::byte> buffer = allocate_device_memory(
      static_cast<size_t>(2 * chunks * features) * sizeof(float), x.device().index);
  float* partials = reinterpret_cast<float*>(buffer.get());
  if (chunks > 0) {
    const unsigned int threads = row_threads(features);
    const dim3 blocks(static_cast<unsigned int>((features + threads - 1) / threads),
                      static_cast<unsigned int>(chunks));
    layer_norm_param_partials_kernel<T><<<blocks, threads, 0, stream>>>(
        device_data<const T>(grad_out), device_data<const T>(x), device_data<const float>(mean),
        device_data<const float>(rstd), rows, features, (rows + chunks - 1) / chunks, partials);
    HIVE_CUDA_CHECK_LAUNCH();
  }
  T* weight_result = grad_weight.defined() ? device_data<T>(grad_weight) : nullptr;
  T* bias_result = grad_bias.defined() ? device_data<T>(grad_bias) : nullptr;
  sum_param_partials_kernel<T><<<grid_stride_blocks(features), kThreadsPerBlock, 0, stream>>>(
      partials, chunks, features, weight_result, bias_result);
  HIVE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                             const Tensor& out, const Tensor& mean, const Tensor& rstd) {
  DeviceGuard guard(out.device().index);
  const int64_t features = x.size(-1);
  const int64_t rows = row_count(x, features);
  if (rows == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() {
    launch_layer_norm<T>(x, weight, bias, eps, out, mean, rstd, rows, features, stream_for(out));
  });
}

void CudaBackend::layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                      const Tensor& mean, const Tensor& rstd, const Tensor& grad_x,
                                      const Tensor& grad_weight, const Tensor& grad_bias) {
  // Any of the outputs may be undefined; all tensors share x's device.
  DeviceGuard guard(x.device().index);
  const int64_t features = x.size(-1);
  const int64_t rows = row_count(x, features);
  const bool want_params = grad_weight.defined() || grad_bias.defined();
  cudaStream_t stream = stream_for(x);
  dispatch_floating(x.dtype(), [&]<typename T>() {
    if (grad_x.defined() && rows > 0) {
      launch_layer_norm_grad_x<T>(grad_out, x, weight, mean, rstd, grad_x, rows, features, stream);
    }
    // Even without rows, the parameter gradients are written (as zeros).
    if (want_params && features > 0) {
      launch_layer_norm_param_grads<T>(grad_out, x, mean, rstd, grad_weight, grad_bias, rows,
                                       features, stream);
    }
  });
}

}  // namespace hive::cuda
