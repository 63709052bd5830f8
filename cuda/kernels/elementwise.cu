// Elementwise kernels on a CUDA device: activations and their derivatives, broadcasting binary
// ops, affine maps, broadcast reductions (sum_to), squared norms and dropout. Same formulas as
// engine/cpu/elementwise.cpp, computed in float and rounded once on store.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "engine/core/activation_math.h"
#include "engine/core/broadcast.h"
#include "engine/core/counter_random.h"
#include "engine/core/dtype_dispatch.h"

namespace hive::cuda {
namespace {

// These kernels are bound by memory traffic, so the accurate expf costs nothing over __expf.
struct DeviceExp {
  __device__ float operator()(float v) const { return expf(v); }
};

// --- Activations: f(x) ---
struct Relu {
  __device__ float operator()(float v) const { return v > 0.0f ? v : 0.0f; }
};
struct Gelu {
  __device__ float operator()(float v) const { return gelu_tanh(v, DeviceExp{}); }
};
struct Tanh {
  __device__ float operator()(float v) const { return tanhf(v); }
};
struct Sigmoid {
  __device__ float operator()(float v) const { return sigmoid_of(v, DeviceExp{}); }
};
struct Exp {
  __device__ float operator()(float v) const { return expf(v); }
};
struct Log {
  __device__ float operator()(float v) const { return logf(v); }
};
struct Neg {
  __device__ float operator()(float v) const { return -v; }
};
struct Square {
  __device__ float operator()(float v) const { return v * v; }
};
struct Sqrt {
  __device__ float operator()(float v) const { return sqrtf(v); }
};
struct Affine {
  float scale;
  float shift;
  __device__ float operator()(float v) const { return scale * v + shift; }
};

// --- Derivatives: d f(x) / dx, given x and y = f(x) ---
struct ReluDerivative {
  __device__ float operator()(float v, float) const { return v > 0.0f ? 1.0f : 0.0f; }
};
struct GeluDerivative {
  __device__ float operator()(float v, float) const { return gelu_tanh_derivative(v, DeviceExp{}); }
};
struct TanhDerivative {
  __device__ float operator()(float, float t) const { return 1.0f - t * t; }
};
struct SigmoidDerivative {
  __device__ float operator()(float, float s) const { return s * (1.0f - s); }
};
struct ExpDerivative {
  __device__ float operator()(float, float e) const { return e; }
};
struct LogDerivative {
  __device__ float operator()(float v, float) const { return 1.0f / v; }
};
struct NegDerivative {
  __device__ float operator()(float, float) const { return -1.0f; }
};
struct SquareDerivative {
  __device__ float operator()(float v, float) const { return 2.0f * v; }
};
struct SqrtDerivative {
  __device__ float operator()(float, float r) const { return 0.5f / r; }
};

// --- Binary ops: f(a, b) ---
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Sub {
  __device__ float operator()(float a, float b) const { return a - b; }
};
struct Mul {
  __device__ float operator()(float a, float b) const { return a * b; }
};
struct Div {
  __device__ float operator()(float a, float b) const { return a / b; }
};
// f with its operands swapped, so that one kernel serves a scalar on either side.
template <typename F>
struct Swapped {
  F f;
  __device__ float operator()(float b, float a) const { return f(a, b); }
};

template <typename T, typename F>
__global__ void map_unary_kernel(const T* x, T* out, int64_t count, F f) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    out[i] = store<T>(f(load(x[i])));
  }
}

// grad_x[i] = grad_out[i] * derivative(x[i], y[i]).
template <typename T, typename F>
__global__ void map_derivative_kernel(const T* grad_out, const T* x, const T* y, T* grad_x,
                                      int64_t count, F derivative) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    grad_x[i] = store<T>(load(grad_out[i]) * derivative(load(x[i]), load(y[i])));
  }
}

template <typename T, typename F>
__global__ void binary_same_shape_kernel(const T* a, const T* b, T* out, int64_t count, F f) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    out[i] = store<T>(f(load(a[i]), load(b[i])));
  }
}

// out[i] = f(tensor[i], scalar[0]).
template <typename T, typename F>
__global__ void binary_scalar_kernel(const T* tensor, const T* scalar, T* out, int64_t count, F f) {
  const float value = load(scalar[0]);
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    out[i] = store<T>(f(load(tensor[i]), value));
  }
}

// The general case: each output index is decomposed over the plan's (collapsed) dimensions to
// find both inputs' elements.
template <typename T, typename F>
__global__ void binary_broadcast_kernel(const T* a, const T* b, T* out, int64_t count,
                                        BroadcastPlan plan, F f) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    int64_t remaining = i;
    int64_t offset_a = 0;
    int64_t offset_b = 0;
    for (int axis = plan.rank - 1; axis > 0; --axis) {
      const auto index = static_cast<size_t>(axis);
      const int64_t coordinate = remaining % plan.dims[index];
      remaining /= plan.dims[index];
      offset_a += coordinate * plan.stride_a[index];
      offset_b += coordinate * plan.stride_b[index];
    }
    // What remains is the outermost coordinate (the strides are 0 when the rank is 0).
    offset_a += remaining * plan.stride_a[0];
    offset_b += remaining * plan.stride_b[0];
    out[i] = store<T>(f(load(a[offset_a]), load(b[offset_b])));
  }
}

template <typename T, typename F>
void map_unary(const Tensor& x, const Tensor& out, F f) {
  const int64_t count = x.numel();
  map_unary_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(out)>>>(
      device_data<const T>(x), device_data<T>(out), count, f);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T, typename F>
void map_derivative(const Tensor& grad_out, const Tensor& x, const Tensor& y, const Tensor& grad_x,
                    F derivative) {
  const int64_t count = x.numel();
  map_derivative_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(grad_x)>>>(
      device_data<const T>(grad_out), device_data<const T>(x), device_data<const T>(y),
      device_data<T>(grad_x), count, derivative);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T, typename F>
void map_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const int64_t count = out.numel();
  const unsigned int blocks = grid_stride_blocks(count);
  cudaStream_t stream = stream_for(out);
  const T* pa = device_data<const T>(a);
  const T* pb = device_data<const T>(b);
  T* po = device_data<T>(out);
  // Equal element counts mean equal shapes here: both inputs broadcast to out.
  if (a.numel() == count && b.numel() == count) {
    binary_same_shape_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(pa, pb, po, count, f);
  } else if (b.numel() == 1) {
    binary_scalar_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(pa, pb, po, count, f);
  } else if (a.numel() == 1) {
    binary_scalar_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(pb, pa, po, count, Swapped<F>{f});
  } else {
    const BroadcastPlan plan = BroadcastPlan::make(a.shape(), b.shape(), out.shape());
    binary_broadcast_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(pa, pb, po, count, plan, f);
  }
  HIVE_CUDA_CHECK_LAUNCH();
}

// --- sum_to ---

// x's dimensions (collapsed as in BroadcastPlan, outermost first) split into those that out
// keeps and those summed over, each with x's element strides. Out's elements enumerate the kept
// dimensions in order, the summed elements of one output enumerate the reduced ones.
struct SumToLayout {
  int kept_rank = 0;
  int reduced_rank = 0;
  int64_t kept_dims[Shape::kMaxRank] = {};
  int64_t kept_strides[Shape::kMaxRank] = {};
  int64_t reduced_dims[Shape::kMaxRank] = {};
  int64_t reduced_strides[Shape::kMaxRank] = {};
};

// Offset in x of element `index` of a row-major walk over `dims`.
__device__ __forceinline__ int64_t walk_offset(int64_t index, int rank, const int64_t* dims,
                                               const int64_t* strides) {
  if (rank == 0) return 0;
  int64_t offset = 0;
  for (int axis = rank - 1; axis > 0; --axis) {
    offset += (index % dims[axis]) * strides[axis];
    index /= dims[axis];
  }
  return offset + index * strides[0];
}

__device__ __forceinline__ int64_t kept_offset(const SumToLayout& layout, int64_t out_index) {
  return walk_offset(out_index, layout.kept_rank, layout.kept_dims, layout.kept_strides);
}
__device__ __forceinline__ int64_t reduced_offset(const SumToLayout& layout, int64_t reduce_index) {
  return walk_offset(reduce_index, layout.reduced_rank, layout.reduced_dims, layout.reduced_strides);
}

// The reduction of each output may be split over gridDim.y blocks; split s sums reduce indices
// [s * per_split, (s + 1) * per_split).
struct SumToSplit {
  int64_t out_count;
  int64_t reduce_count;
  int64_t per_split;
  float* partials;  // [splits, out_count] when split, else null: blocks then write out directly
};

template <typename T>
__device__ __forceinline__ void write_sum(const SumToSplit& split, int64_t out_index, float total,
                                          T* out) {
  if (split.partials != nullptr) {
    split.partials[static_cast<int64_t>(blockIdx.y) * split.out_count + out_index] = total;
  } else {
    out[out_index] = store<T>(total);
  }
}

inline constexpr int kSumColumns = kWarpSize;  // outputs per block in sum_to_columns_kernel
inline constexpr int kSumRows = kThreadsPerBlock / kSumColumns;  // threads sharing one output

// When x's innermost dimension is kept (a bias gradient: [rows, n] -> [n]): a block takes 32
// consecutive outputs, one per lane, so each warp reads 32 neighbouring elements of x; the 8
// warps of the block walk different reduce indices and their sums are added in shared memory.
template <typename T>
__global__ void sum_to_columns_kernel(const T* x, SumToLayout layout, SumToSplit split, T* out) {
  __shared__ float column_sums[kSumRows][kSumColumns];
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * split.per_split;
  const int64_t end = std::min(split.reduce_count, begin + split.per_split);
  // The loop condition is the same for the whole block, so the barriers inside are safe.
  for (int64_t first = static_cast<int64_t>(blockIdx.x) * kSumColumns; first < split.out_count;
       first += static_cast<int64_t>(gridDim.x) * kSumColumns) {
    const int64_t column = first + threadIdx.x;
    float sum = 0.0f;
    if (column < split.out_count) {
      const int64_t base = kept_offset(layout, column);
      for (int64_t r = begin + threadIdx.y; r < end; r += kSumRows) {
        sum += load(x[base + reduced_offset(layout, r)]);
      }
    }
    column_sums[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && column < split.out_count) {
      float total = 0.0f;
      for (int row = 0; row < kSumRows; ++row) total += column_sums[row][threadIdx.x];
      write_sum(split, column, total, out);
    }
    __syncthreads();  // column_sums is rewritten by the next iteration
  }
}

// When x's innermost dimension is summed over ([rows, n] -> [rows, 1]): a block per output, its
// threads walking neighbouring reduce indices, combined with a block reduction.
template <typename T>
__global__ void sum_to_rows_kernel(const T* x, SumToLayout layout, SumToSplit split, T* out) {
  __shared__ float scratch[kWarpSize];
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * split.per_split;
  const int64_t end = std::min(split.reduce_count, begin + split.per_split);
  for (int64_t row = blockIdx.x; row < split.out_count; row += gridDim.x) {
    const int64_t base = kept_offset(layout, row);
    float sum = 0.0f;
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) {
      sum += load(x[base + reduced_offset(layout, r)]);
    }
    const float total = block_sum(sum, scratch);
    if (threadIdx.x == 0) write_sum(split, row, total, out);
  }
}

// out[i] = sum over splits s of partials[s, i], in order of s.
template <typename T>
__global__ void sum_partials_kernel(const float* partials, int64_t splits, int64_t out_count, T* out) {
  for (int64_t i = global_thread_index(); i < out_count; i += grid_thread_count()) {
    float total = 0.0f;
    for (int64_t s = 0; s < splits; ++s) total += partials[s * out_count + i];
    out[i] = store<T>(total);
  }
}

SumToLayout split_axes(const BroadcastPlan& plan) {
  SumToLayout layout;
  for (int axis = 0; axis < plan.rank; ++axis) {
    const auto index = static_cast<size_t>(axis);
    // stride_b is out's stride: 0 exactly along the axes out does not have.
    if (plan.stride_b[index] != 0) {
      layout.kept_dims[layout.kept_rank] = plan.dims[index];
      layout.kept_strides[layout.kept_rank++] = plan.stride_a[index];
    } else {
      layout.reduced_dims[layout.reduced_rank] = plan.dims[index];
      layout.reduced_strides[layout.reduced_rank++] = plan.stride_a[index];
    }
  }
  return layout;
}

inline constexpr int64_t kSumMaxBlocksX = 4096;    // grid-stride over outputs beyond this
inline constexpr int64_t kSumTargetBlocks = 1024;  // enough to keep every SM busy
inline constexpr int64_t kSumMinStepsPerThread = 32;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// x is non-empty, out has at least one element.
template <typename T>
void launch_sum_to(const Tensor& x, const Tensor& out) {
  // Walk x as the first operand; the second (out) gets stride 0 along the summed axes.
  const BroadcastPlan plan = BroadcastPlan::make(x.shape(), out.shape(), x.shape());
  const SumToLayout layout = split_axes(plan);
  const int64_t out_count = out.numel();
  const int64_t reduce_count = x.numel() / out_count;
  const bool inner_kept = plan.rank == 0 || plan.stride_b[static_cast<size_t>(plan.rank - 1)] != 0;
  const int64_t blocks_x = std::min(
      kSumMaxBlocksX, inner_kept ? ceil_div(out_count, kSumColumns) : out_count);
  // With few outputs ([rows, n] -> [n] with small n) the reduction is split over more blocks, as
  // long as each thread keeps enough work. Partial sums are added in a fixed order by a second
  // kernel (no atomics), so the result does not depend on timing.
  const int64_t threads_per_output = inner_kept ? kSumRows : kThreadsPerBlock;
  const int64_t wanted_splits = ceil_div(kSumTargetBlocks, blocks_x);
  const int64_t useful_splits = ceil_div(reduce_count, threads_per_output * kSumMinStepsPerThread);
  const int64_t chosen_splits = std::max<int64_t>(1, std::min(wanted_splits, useful_splits));
  const int64_t per_split = ceil_div(reduce_count, chosen_splits);
  const int64_t splits = ceil_div(reduce_count, per_split);  // none left empty

  const int device = out.device().index;
  cudaStream_t stream = stream_for(out);
  std::shared_ptr<std::byte> partials;
  if (splits > 1) {
    partials = allocate_device_memory(static_cast<size_t>(splits * out_count) * sizeof(float), device);
  }
  const SumToSplit split{out_count, reduce_count, per_split, reinterpret_cast<float*>(partials.get())};
  const dim3 grid(static_cast<unsigned int>(blocks_x), static_cast<unsigned int>(splits));
  const T* in = device_data<const T>(x);
  T* result = device_data<T>(out);
  if (inner_kept) {
    sum_to_columns_kernel<T><<<grid, dim3(kSumColumns, kSumRows), 0, stream>>>(in, layout, split, result);
  } else {
    sum_to_rows_kernel<T><<<grid, kThreadsPerBlock, 0, stream>>>(in, layout, split, result);
  }
  HIVE_CUDA_CHECK_LAUNCH();
  if (splits > 1) {
    sum_partials_kernel<T><<<grid_stride_blocks(out_count), kThreadsPerBlock, 0, stream>>>(
        split.partials, splits, out_count, result);
    HIVE_CUDA_CHECK_LAUNCH();
  }
  // `partials` is released in stream order, after the kernels above.
}

// --- sum_of_squares ---

// Each tensor gets this many partial sums (one per block, at most this many blocks); a second
// kernel adds them in a fixed order, so the result does not depend on timing.
inline constexpr int kSquaresSlots = 1024;

template <typename T>
__global__ void sum_of_squares_kernel(const T* x, int64_t count, float* slots) {
  __shared__ float scratch[kWarpSize];
  float sum = 0.0f;
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const float v = load(x[i]);
    sum += v * v;
  }
  const float total = block_sum(sum, scratch);
  if (threadIdx.x == 0) slots[blockIdx.x] = total;
}

// out[t] = sum of the kSquaresSlots partial sums of tensor t (block t).
__global__ void sum_slots_kernel(const float* slots, float* out) {
  __shared__ float scratch[kWarpSize];
  const float* own = slots + static_cast<int64_t>(blockIdx.x) * kSquaresSlots;
  float sum = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < kSquaresSlots; i += static_cast<int>(blockDim.x)) {
    sum += own[i];
  }
  const float total = block_sum(sum, scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = total;
}

template <typename T>
void launch_sum_of_squares(const Tensor& x, float* slots, cudaStream_t stream) {
  const int64_t count = x.numel();
  const unsigned int blocks = std::min<unsigned int>(grid_stride_blocks(count), kSquaresSlots);
  sum_of_squares_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(device_data<const T>(x), count, slots);
  HIVE_CUDA_CHECK_LAUNCH();
}

// --- dropout ---

template <typename T>
__global__ void dropout_kernel(const T* x, T* out, int64_t count, float p, uint64_t seed, float keep_scale) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const bool keep = random_uniform(seed, static_cast<uint64_t>(i)) >= p;
    out[i] = store<T>(keep ? load(x[i]) * keep_scale : 0.0f);
  }
}

template <typename T>
void launch_dropout(const Tensor& x, float p, uint64_t seed, const Tensor& out) {
  const int64_t count = x.numel();
  const float keep_scale = 1.0f / (1.0f - p);
  dropout_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(out)>>>(
      device_data<const T>(x), device_data<T>(out), count, p, seed, keep_scale);
  HIVE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (x.numel() == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() {
    switch (op) {
      case UnaryOp::kRelu: return map_unary<T>(x, out, Relu{});
      case UnaryOp::kGelu: return map_unary<T>(x, out, Gelu{});
      case UnaryOp::kTanh: return map_unary<T>(x, out, Tanh{});
      case UnaryOp::kSigmoid: return map_unary<T>(x, out, Sigmoid{});
      case UnaryOp::kExp: return map_unary<T>(x, out, Exp{});
      case UnaryOp::kLog: return map_unary<T>(x, out, Log{});
      case UnaryOp::kNeg: return map_unary<T>(x, out, Neg{});
      case UnaryOp::kSquare: return map_unary<T>(x, out, Square{});
      case UnaryOp::kSqrt: return map_unary<T>(x, out, Sqrt{});
    }
  });
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& grad_out, const Tensor& x,
                                 const Tensor& y, const Tensor& grad_x) {
  DeviceGuard guard(grad_x.device().index);
  if (x.numel() == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() {
    switch (op) {
      case UnaryOp::kRelu: return map_derivative<T>(grad_out, x, y, grad_x, ReluDerivative{});
      case UnaryOp::kGelu: return map_derivative<T>(grad_out, x, y, grad_x, GeluDerivative{});
      case UnaryOp::kTanh: return map_derivative<T>(grad_out, x, y, grad_x, TanhDerivative{});
      case UnaryOp::kSigmoid: return map_derivative<T>(grad_out, x, y, grad_x, SigmoidDerivative{});
      case UnaryOp::kExp: return map_derivative<T>(grad_out, x, y, grad_x, ExpDerivative{});
      case UnaryOp::kLog: return map_derivative<T>(grad_out, x, y, grad_x, LogDerivative{});
      case UnaryOp::kNeg: return map_derivative<T>(grad_out, x, y, grad_x, NegDerivative{});
      case UnaryOp::kSquare: return map_derivative<T>(grad_out, x, y, grad_x, SquareDerivative{});
      case UnaryOp::kSqrt: return map_derivative<T>(grad_out, x, y, grad_x, SqrtDerivative{});
    }
  });
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  dispatch_floating(a.dtype(), [&]<typename T>() {
    switch (op) {
      case BinaryOp::kAdd: return map_binary<T>(a, b, out, Add{});
      case BinaryOp::kSub: return map_binary<T>(a, b, out, Sub{});
      case BinaryOp::kMul: return map_binary<T>(a, b, out, Mul{});
      case BinaryOp::kDiv: return map_binary<T>(a, b, out, Div{});
    }
  });
}

void CudaBackend::affine(const Tensor& x, float scale, float shift, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (x.numel() == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() { map_unary<T>(x, out, Affine{scale, shift}); });
}

void CudaBackend::sum_to(const Tensor& x, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  if (x.numel() == 0) {
    // Sums of nothing; all-zero bits are +0 in every floating dtype.
    HIVE_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), stream_for(out)));
    return;
  }
  dispatch_floating(x.dtype(), [&]<typename T>() { launch_sum_to<T>(x, out); });
}

void CudaBackend::sum_of_squares(std::span<const Tensor> tensors, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (tensors.empty()) return;
  cudaStream_t stream = stream_for(out);
  const size_t slot_bytes = tensors.size() * kSquaresSlots * sizeof(float);
  const std::shared_ptr<std::byte> workspace = allocate_device_memory(slot_bytes, out.device().index);
  auto* slots = reinterpret_cast<float*>(workspace.get());
  // Slots of blocks that a small (or empty) tensor does not launch stay 0.
  HIVE_CUDA_CHECK(cudaMemsetAsync(slots, 0, slot_bytes, stream));
  for (size_t t = 0; t < tensors.size(); ++t) {
    const Tensor& x = tensors[t];
    if (x.numel() == 0) continue;
    dispatch_floating(x.dtype(), [&]<typename T>() {
      launch_sum_of_squares<T>(x, slots + t * kSquaresSlots, stream);
    });
  }
  sum_slots_kernel<<<static_cast<unsigned int>(tensors.size()), kThreadsPerBlock, 0, stream>>>(
      slots, device_data<float>(out));
  HIVE_CUDA_CHECK_LAUNCH();
  // `workspace` is released in stream order, after the kernels above.
}

void CudaBackend::dropout(const Tensor& x, float p, uint64_t seed, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (x.numel() == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() { launch_dropout<T>(x, p, seed, out); });
}

}  // namespace hive::cuda
