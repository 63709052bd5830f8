// Kernels along one axis of a tensor seen as [outer, axis, inner], mirroring
// engine/cpu/axis_kernels.cpp: reductions, softmax and the fused softmax + cross-entropy.
//
// inner == 1 (the last axis, the common case): one block per row of `axis` contiguous elements,
// sized to the row (a single warp for short rows), with block reductions. inner > 1: one thread
// per (outer, inner) column walking the axis `inner` apart; neighbouring threads read
// neighbouring columns, so loads stay coalesced, and each column is summed in the CPU's order.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>

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

// Offset of the first element of column `column` (= o * inner + i) in [outer, axis, inner].
__device__ __forceinline__ int64_t column_base(int64_t column, AxisLayout layout) {
  return (column / layout.inner) * layout.axis * layout.inner + column % layout.inner;
}

// ---------------------------------------------------------------------------------------------
// reduce

// A running maximum and where it was found.
struct ArgMax {
  float value;
  int64_t index;
};

// The CPU's order: NaN beats everything (so the first NaN wins), otherwise the larger value,
// and between equal values the lower index, so the result is the first index of the maximum
// whatever order the candidates are combined in.
__device__ __forceinline__ bool takes_over(ArgMax candidate, ArgMax best) {
  const bool candidate_nan = isnan(candidate.value);
  const bool best_nan = isnan(best.value);
  if (candidate_nan != best_nan) return candidate_nan;
  if (!candidate_nan && candidate.value != best.value) return candidate.value > best.value;
  return candidate.index < best.index;
}

// Loses to every element of a non-empty row.
__device__ __forceinline__ ArgMax no_argmax() {
  return {-INFINITY, std::numeric_limits<int64_t>::max()};
}

__device__ __forceinline__ ArgMax warp_argmax(ArgMax best) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const ArgMax other = {__shfl_xor_sync(0xffffffffu, best.value, offset),
                          __shfl_xor_sync(0xffffffffu, best.index, offset)};
    if (takes_over(other, best)) best = other;
  }
  return best;
}

// Like block_reduce, for (value, index) pairs; only thread 0 gets the result.
__device__ ArgMax block_argmax(ArgMax best, ArgMax* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int warps = static_cast<int>(blockDim.x) / kWarpSize;
  best = warp_argmax(best);
  __syncthreads();  // scratch may still be read by an earlier call
  if (lane == 0) scratch[warp] = best;
  __syncthreads();
  if (warp == 0) best = warp_argmax(lane < warps ? scratch[lane] : no_argmax());
  return best;
}

template <typename T>
__global__ void sum_rows_kernel(ReduceOp op, const T* in, int64_t rows, int64_t length, T* out) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* line = in + row * length;
    float total = 0.0f;
    for (int64_t j = threadIdx.x; j < length; j += blockDim.x) total += load(line[j]);
    total = block_sum(total, scratch);
    if (op == ReduceOp::kMean) total /= static_cast<float>(length);
    if (threadIdx.x == 0) out[row] = store<T>(total);
  }
}

template <typename T>
__global__ void max_rows_kernel(const T* in, int64_t rows, int64_t length, T* out,
                                int64_t* argmax) {
  __shared__ ArgMax scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* line = in + row * length;
    ArgMax best = no_argmax();
    for (int64_t j = threadIdx.x; j < length; j += blockDim.x) {
      const ArgMax candidate = {load(line[j]), j};
      if (takes_over(candidate, best)) best = candidate;
    }
    best = block_argmax(best, scratch);
    if (threadIdx.x == 0) {
      out[row] = store<T>(best.value);
      argmax[row] = best.index;
    }
  }
}

// Multiplies by 1 / axis for the mean, as the CPU's column path does.
template <typename T>
__global__ void sum_columns_kernel(ReduceOp op, const T* in, AxisLayout layout, T* out) {
  const int64_t columns = layout.outer * layout.inner;
  const float scale = op == ReduceOp::kMean ? 1.0f / static_cast<float>(layout.axis) : 1.0f;
  for (int64_t column = global_thread_index(); column < columns; column += grid_thread_count()) {
    const T* line = in + column_base(column, layout);
    float total = 0.0f;
    for (int64_t j = 0; j < layout.axis; ++j) total += load(line[j * layout.inner]);
    out[column] = store<T>(total * scale);
  }
}

template <typename T>
__global__ void max_columns_kernel(const T* in, AxisLayout layout, T* out, int64_t* argmax) {
  const int64_t columns = layout.outer * layout.inner;
  for (int64_t column = global_thread_index(); column < columns; column += grid_thread_count()) {
    const T* line = in + column_base(column, layout);
    ArgMax best = {load(line[0]), 0};
    for (int64_t j = 1; j < layout.axis; ++j) {
      const ArgMax candidate = {load(line[j * layout.inner]), j};
      if (takes_over(candidate, best)) best = candidate;
    }
    out[column] = store<T>(best.value);
    argmax[column] = best.index;
  }
}

template <typename T>
void launch_reduce(ReduceOp op, const Tensor& x, AxisLayout layout, const Tensor& out,
                   const Tensor& argmax, cudaStream_t stream) {
  const T* in = device_data<const T>(x);
  T* result = device_data<T>(out);
  if (layout.inner == 1) {
    const unsigned int blocks = row_blocks(layout.outer);
    const unsigned int threads = row_threads(layout.axis);
    if (op == ReduceOp::kMax) {
      max_rows_kernel<T><<<blocks, threads, 0, stream>>>(in, layout.outer, layout.axis, result,
                                                         device_data<int64_t>(argmax));
    } else {
      sum_rows_kernel<T><<<blocks, threads, 0, stream>>>(op, in, layout.outer, layout.axis, result);
    }
  } else {
    const unsigned int blocks = grid_stride_blocks(layout.outer * layout.inner);
    if (op == ReduceOp::kMax) {
      max_columns_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(in, layout, result,
                                                                     device_data<int64_t>(argmax));
    } else {
      sum_columns_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(op, in, layout, result);
    }
  }
  HIVE_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------------------------------------
// softmax

struct RowExp {
  float max;
  float exp_sum;  // sum of exp(x - max)
};

// max and sum(exp(x - max)) of one row; every thread of the block gets both. NaN elements are
// skipped by the max (fmaxf, like the CPU's std::max) and then make the sum NaN.
template <typename T>
__device__ RowExp row_exp(const T* line, int64_t length, float* scratch) {
  float max_value = -INFINITY;
  for (int64_t j = threadIdx.x; j < length; j += blockDim.x) max_value = fmaxf(max_value, load(line[j]));
  max_value = block_max(max_value, scratch);
  float total = 0.0f;
  for (int64_t j = threadIdx.x; j < length; j += blockDim.x) total += expf(load(line[j]) - max_value);
  return {max_value, block_sum(total, scratch)};
}

template <typename T>
__global__ void softmax_rows_kernel(SoftmaxKind kind, const T* in, int64_t rows, int64_t length,
                                    T* out) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* line = in + row * length;
    T* target = out + row * length;
    const RowExp stats = row_exp(line, length, scratch);
    if (kind == SoftmaxKind::kLogSoftmax) {
      const float log_total = stats.max + logf(stats.exp_sum);
      for (int64_t j = threadIdx.x; j < length; j += blockDim.x) {
        target[j] = store<T>(load(line[j]) - log_total);
      }
    } else {
      const float inverse = 1.0f / stats.exp_sum;
      for (int64_t j = threadIdx.x; j < length; j += blockDim.x) {
        target[j] = store<T>(expf(load(line[j]) - stats.max) * inverse);
      }
    }
  }
}

template <typename T>
__global__ void softmax_columns_kernel(SoftmaxKind kind, const T* in, AxisLayout layout, T* out) {
  const int64_t columns = layout.outer * layout.inner;
  const int64_t stride = layout.inner;
  for (int64_t column = global_thread_index(); column < columns; column += grid_thread_count()) {
    const int64_t base = column_base(column, layout);
    const T* line = in + base;
    T* target = out + base;
    float max_value = -INFINITY;
    for (int64_t j = 0; j < layout.axis; ++j) max_value = fmaxf(max_value, load(line[j * stride]));
    float total = 0.0f;
    for (int64_t j = 0; j < layout.axis; ++j) total += expf(load(line[j * stride]) - max_value);
    if (kind == SoftmaxKind::kLogSoftmax) {
      const float log_total = max_value + logf(total);
      for (int64_t j = 0; j < layout.axis; ++j) {
        target[j * stride] = store<T>(load(line[j * stride]) - log_total);
      }
    } else {
      const float inverse = 1.0f / total;
      for (int64_t j = 0; j < layout.axis; ++j) {
        target[j * stride] = store<T>(expf(load(line[j * stride]) - max_value) * inverse);
      }
    }
  }
}

template <typename T>
void launch_softmax(SoftmaxKind kind, const Tensor& x, AxisLayout layout, const Tensor& out,
                    cudaStream_t stream) {
  const T* in = device_data<const T>(x);
  T* result = device_data<T>(out);
  if (layout.inner == 1) {
    softmax_rows_kernel<T><<<row_blocks(layout.outer), row_threads(layout.axis), 0, stream>>>(
        kind, in, layout.outer, layout.axis, result);
  } else {
    softmax_columns_kernel<T><<<grid_stride_blocks(layout.outer * layout.inner), kThreadsPerBlock,
                                0, stream>>>(kind, in, layout, result);
  }
  HIVE_CUDA_CHECK_LAUNCH();
}

// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
__device__ __forceinline__ float softmax_grad_term(SoftmaxKind kind, float y, float dy) {
  return kind == SoftmaxKind::kSoftmax ? dy * y : dy;
}
__device__ __forceinline__ float softmax_grad(SoftmaxKind kind, float y, float dy, float total) {
  return kind == SoftmaxKind::kSoftmax ? y * (dy - total) : dy - expf(y) * total;
}

template <typename T>
__global__ void softmax_backward_rows_kernel(SoftmaxKind kind, const T* y, const T* grad_y,
                                             int64_t rows, int64_t length, T* grad_x) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * length;
    float total = 0.0f;
    for (int64_t j = threadIdx.x; j < length; j += blockDim.x) {
      total += softmax_grad_term(kind, load(y[base + j]), load(grad_y[base + j]));
    }
    total = block_sum(total, scratch);
    for (int64_t j = threadIdx.x; j < length; j += blockDim.x) {
      grad_x[base + j] = store<T>(softmax_grad(kind, load(y[base + j]), load(grad_y[base + j]), total));
    }
  }
}

template <typename T>
__global__ void softmax_backward_columns_kernel(SoftmaxKind kind, const T* y, const T* grad_y,
                                                AxisLayout layout, T* grad_x) {
  const int64_t columns = layout.outer * layout.inner;
  const int64_t stride = layout.inner;
  for (int64_t column = global_thread_index(); column < columns; column += grid_thread_count()) {
    const int64_t base = column_base(column, layout);
    float total = 0.0f;
    for (int64_t j = 0; j < layout.axis; ++j) {
      const int64_t at = base + j * stride;
      total += softmax_grad_term(kind, load(y[at]), load(grad_y[at]));
    }
    for (int64_t j = 0; j < layout.axis; ++j) {
      const int64_t at = base + j * stride;
      grad_x[at] = store<T>(softmax_grad(kind, load(y[at]), load(grad_y[at]), total));
    }
  }
}

template <typename T>
void launch_softmax_backward(SoftmaxKind kind, const Tensor& y, const Tensor& grad_y,
                             AxisLayout layout, const Tensor& grad_x, cudaStream_t stream) {
  const T* probabilities = device_data<const T>(y);
  const T* grad_out = device_data<const T>(grad_y);
  T* result = device_data<T>(grad_x);
  if (layout.inner == 1) {
    softmax_backward_rows_kernel<T>
        <<<row_blocks(layout.outer), row_threads(layout.axis), 0, stream>>>(
            kind, probabilities, grad_out, layout.outer, layout.axis, result);
  } else {
    softmax_backward_columns_kernel<T>
        <<<grid_stride_blocks(layout.outer * layout.inner), kThreadsPerBlock, 0, stream>>>(
            kind, probabilities, grad_out, layout, result);
  }
  HIVE_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------------------------------------
// cross-entropy

// Threads of the kernel that averages the per-block losses; a power of two for its tree sum.
constexpr int kLossThreads = 256;

// log_sum_exp[row] for every row, and per block the sum (in double, as the CPU's per-chunk
// sums) of its rows' losses log_sum_exp - logit[label]: block_losses[blockIdx.x]. Rows go to
// blocks by a fixed rule, so the partial sums are the same on every run.
template <typename T, typename I>
__global__ void cross_entropy_rows_kernel(const T* logits, const I* labels, int64_t rows,
                                          int64_t classes, float* log_sum_exp,
                                          double* block_losses) {
  __shared__ float scratch[kWarpSize];
  double block_loss = 0.0;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* line = logits + row * classes;
    const RowExp stats = row_exp(line, classes, scratch);
    if (threadIdx.x == 0) {
      const float lse = stats.max + logf(stats.exp_sum);
      log_sum_exp[row] = lse;
      block_loss += lse - load(line[static_cast<int64_t>(labels[row])]);
    }
  }
  if (threadIdx.x == 0) block_losses[blockIdx.x] = block_loss;
}

// loss = (sum of the `count` block losses) / rows, by one block in a fixed order. With no rows
// that is 0 / 0 = NaN, as on the CPU.
__global__ void mean_loss_kernel(const double* block_losses, int64_t count, int64_t rows,
                                 float* loss) {
  __shared__ double sums[kLossThreads];
  double total = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += kLossThreads) total += block_losses[i];
  sums[threadIdx.x] = total;
  __syncthreads();
  for (int stride = kLossThreads / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) sums[threadIdx.x] += sums[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = static_cast<float>(sums[0] / static_cast<double>(rows));
}

template <typename T, typename I>
void launch_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                          const Tensor& log_sum_exp, cudaStream_t stream) {
  const int64_t rows = logits.size(0);
  const int64_t classes = logits.size(1);
  const unsigned int blocks = row_blocks(rows);
  const std::shared_ptr<std::byte> block_losses =
      allocate_device_memory(blocks * sizeof(double), loss.device().index);
  double* partials = reinterpret_cast<double*>(block_losses.get());
  if (blocks > 0) {
    cross_entropy_rows_kernel<T, I><<<blocks, row_threads(classes), 0, stream>>>(
        device_data<const T>(logits), device_data<const I>(labels), rows, classes,
        device_data<float>(log_sum_exp), partials);
    HIVE_CUDA_CHECK_LAUNCH();
  }
  mean_loss_kernel<<<1, kLossThreads, 0, stream>>>(partials, blocks, rows, device_data<float>(loss));
  HIVE_CUDA_CHECK_LAUNCH();
}

// grad_logits = grad_loss / rows * (exp(logit - log_sum_exp) - onehot(label)); grad_loss is read
// on the device, so the host never waits for it.
template <typename T, typename I>
__global__ void cross_entropy_backward_kernel(const T* logits, const I* labels,
                                              const float* log_sum_exp, const float* grad_loss,
                                              int64_t rows, int64_t classes, T* grad_logits) {
  const float scale = grad_loss[0] / static_cast<float>(rows);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* line = logits + row * classes;
    T* target = grad_logits + row * classes;
    const float lse = log_sum_exp[row];
    const auto label = static_cast<int64_t>(labels[row]);
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      const float probability = expf(load(line[c]) - lse);
      target[c] = store<T>(scale * (probability - (c == label ? 1.0f : 0.0f)));
    }
  }
}

template <typename T, typename I>
void launch_cross_entropy_backward(const Tensor& logits, const Tensor& labels,
                                   const Tensor& log_sum_exp, const Tensor& grad_loss,
                                   const Tensor& grad_logits, cudaStream_t stream) {
  const int64_t rows = logits.size(0);
  const int64_t classes = logits.size(1);
  cross_entropy_backward_kernel<T, I><<<row_blocks(rows), row_threads(classes), 0, stream>>>(
      device_data<const T>(logits), device_data<const I>(labels),
      device_data<const float>(log_sum_exp), device_data<const float>(grad_loss), rows, classes,
      device_data<T>(grad_logits));
  HIVE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& x, AxisLayout layout, const Tensor& out,
                         const Tensor& argmax) {
  DeviceGuard guard(out.device().index);
  if (layout.axis == 0) {
    // Every line is empty (the op rejects kMax here). An empty mean is 0 / 0, as in PyTorch.
    fill(out, op == ReduceOp::kMean ? std::numeric_limits<double>::quiet_NaN() : 0.0);
    return;
  }
  if (layout.outer * layout.inner == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() {
    launch_reduce<T>(op, x, layout, out, argmax, stream_for(out));
  });
}

void CudaBackend::softmax(SoftmaxKind kind, const Tensor& x, AxisLayout layout, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() {
    launch_softmax<T>(kind, x, layout, out, stream_for(out));
  });
}

void CudaBackend::softmax_backward(SoftmaxKind kind, const Tensor& y, const Tensor& grad_y,
                                   AxisLayout layout, const Tensor& grad_x) {
  DeviceGuard guard(grad_x.device().index);
  if (grad_x.numel() == 0) return;
  dispatch_floating(y.dtype(), [&]<typename T>() {
    launch_softmax_backward<T>(kind, y, grad_y, layout, grad_x, stream_for(grad_x));
  });
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                                const Tensor& log_sum_exp) {
  // No early return: loss is written even without rows (NaN, as on the CPU).
  DeviceGuard guard(loss.device().index);
  dispatch_floating(logits.dtype(), [&]<typename T>() {
    dispatch_index(labels.dtype(), [&]<typename I>() {
      launch_cross_entropy<T, I>(logits, labels, loss, log_sum_exp, stream_for(loss));
    });
  });
}

void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& labels,
                                         const Tensor& log_sum_exp, const Tensor& grad_loss,
                                         const Tensor& grad_logits) {
  DeviceGuard guard(grad_logits.device().index);
  if (grad_logits.numel() == 0) return;
  dispatch_floating(logits.dtype(), [&]<typename T>() {
    dispatch_index(labels.dtype(), [&]<typename I>() {
      launch_cross_entropy_backward<T, I>(logits, labels, log_sum_exp, grad_loss, grad_logits,
                                          stream_for(grad_logits));
    });
  });
}

}  // namespace hive::cuda
