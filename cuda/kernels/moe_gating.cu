// Mixture-of-Experts gating over a grid of experts, mirroring engine/cpu/moe_gating.cpp: each
// row's k best experts and their softmax weights straight from the per-dimension scores; the
// [n, prod(grid)] expert scores are never stored.
//
// Forward, one warp per row: lane l scores experts l, l + 32, ... (each score added dimension 0
// first, as the CPU does, so both get the same float) and keeps its best few in registers as
// rank keys (the order of topk.cu: NaN largest, then value, then lower index); k rounds of a
// warp-wide maximum over the lanes' heads merge them, then the warp takes the softmax of the k
// chosen scores. Backward, one warp per row: lane j < k holds chosen expert j's softmax gradient
// and coordinates, and each lane writes whole entries of the row, adding the experts that use
// that coordinate in the CPU's order, so no entry is written twice and no atomics are needed.
#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/rank_key.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "engine/core/dtype_dispatch.h"

namespace hive::cuda {
namespace {

constexpr int kMaxDims = static_cast<int>(kMaxGatingGridDimensions);
// Each lane keeps its best kFastK experts when k <= kFastK (routers choose a few experts), and
// its best kMaxGatingK otherwise (more registers, fewer warps in flight).
constexpr int kFastK = 8;

// The grid, passed by value to the kernels. Fewer than 2^31 experts (checked by the op), so
// coordinates and expert numbers fit in 32 bits; offsets and the width may not.
struct GatingGrid {
  int dims = 0;
  int32_t sizes[kMaxDims] = {};
  int64_t offsets[kMaxDims] = {};  // where dimension d's scores start in a row
  int64_t width = 0;               // sum of the sizes: the length of a row
  int32_t experts = 0;             // product of the sizes
};

GatingGrid gating_grid(std::span<const int64_t> grid) {
  GatingGrid layout;
  layout.dims = static_cast<int>(grid.size());
  int64_t experts = 1;
  for (int d = 0; d < layout.dims; ++d) {
    layout.sizes[d] = static_cast<int32_t>(grid[static_cast<size_t>(d)]);
    layout.offsets[d] = layout.width;
    layout.width += layout.sizes[d];
    experts *= layout.sizes[d];
  }
  layout.experts = static_cast<int32_t>(experts);
  return layout;
}

// Row-major coordinates of `number` on the grid; the part of it past the first dimension wraps.
__device__ __forceinline__ void decompose(int32_t number, const GatingGrid& grid,
                                          int32_t (&coordinates)[kMaxDims]) {
#pragma unroll
  for (int d = kMaxDims - 1; d >= 0; --d) {
    coordinates[d] = 0;
    if (d < grid.dims) {
      coordinates[d] = number % grid.sizes[d];
      number /= grid.sizes[d];
    }
  }
}

// A lane's best kCapacity keys, in descending order, 0 where empty. Every index is a
// compile-time constant after unrolling, so the list stays in registers.
template <int kCapacity>
struct LaneBest {
  uint64_t keys[kCapacity];

  __device__ __forceinline__ void clear() {
#pragma unroll
    for (int i = 0; i < kCapacity; ++i) keys[i] = 0;
  }

  // `key` must beat the last key: it replaces it and bubbles up to its place.
  __device__ __forceinline__ void insert(uint64_t key) {
    keys[kCapacity - 1] = key;
#pragma unroll
    for (int i = kCapacity - 1; i > 0; --i) {
      if (keys[i] > keys[i - 1]) {
        const uint64_t swapped = keys[i - 1];
        keys[i - 1] = keys[i];
        keys[i] = swapped;
      }
    }
  }

  __device__ __forceinline__ uint64_t at(int index) const {
    uint64_t key = 0;
#pragma unroll
    for (int i = 0; i < kCapacity; ++i) key = i == index ? keys[i] : key;
    return key;
  }

  __device__ __forceinline__ void pop_front() {
#pragma unroll
    for (int i = 0; i + 1 < kCapacity; ++i) keys[i] = keys[i + 1];
    keys[kCapacity - 1] = 0;
  }
};

// Warp w handles rows w, w + warps, ...; 1 <= k <= kCapacity.
template <typename T, int kCapacity>
__global__ void grid_topk_kernel(const T* scores, int64_t rows, int k, GatingGrid grid,
                                 int64_t* indices, T* weights) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int64_t warps = grid_thread_count() / kWarpSize;
  // The lane walks its experts by adding 32 in the grid's mixed radix, digit by digit with a
  // carry: no division per expert. The first expert and the step are the same for every row.
  int32_t first[kMaxDims];
  int32_t step[kMaxDims];
  decompose(lane, grid, first);
  decompose(kWarpSize, grid, step);
  for (int64_t row = global_thread_index() / kWarpSize; row < rows; row += warps) {
    const T* line = scores + row * grid.width;
    LaneBest<kCapacity> best;
    best.clear();
    uint64_t threshold = 0;  // the lane's k-th best key so far: a new expert must beat it
    int32_t coordinates[kMaxDims];
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) coordinates[d] = first[d];
    for (int64_t expert = lane; expert < grid.experts; expert += kWarpSize) {
      float score = load(line[coordinates[0]]);
#pragma unroll
      for (int d = 1; d < kMaxDims; ++d) {
        if (d < grid.dims) score += load(line[grid.offsets[d] + coordinates[d]]);
      }
      const uint64_t key = rank_key(score, static_cast<uint32_t>(expert));
      if (key > threshold) {
        best.insert(key);
        threshold = best.at(k - 1);
      }
      int32_t carry = 0;
#pragma unroll
      for (int d = kMaxDims - 1; d >= 0; --d) {
        if (d < grid.dims) {
          coordinates[d] += step[d] + carry;
          carry = coordinates[d] >= grid.sizes[d] ? 1 : 0;
          if (carry != 0) coordinates[d] -= grid.sizes[d];
        }
      }
    }
    // Merge: round j takes the largest head among the lanes (keys are distinct, so exactly one
    // lane owns it and drops it); lane j keeps it.
    uint64_t mine = 0;
    for (int j = 0; j < k; ++j) {
      const uint64_t top = warp_max_key(best.keys[0]);
      if (best.keys[0] == top) best.pop_front();
      if (lane == j) mine = top;
    }
    // Softmax over the chosen scores rounded to T, as the CPU's softmax reads them from topk's
    // values. fmaxf skips NaN like the CPU's max; a NaN score still makes every weight NaN.
    const float score = lane < k ? load(store<T>(value_of_key(mine))) : -INFINITY;
    const float max_score = warp_max(score);
    const float exponential = lane < k ? expf(score - max_score) : 0.0f;
    const float total = warp_sum(exponential);
    if (lane < k) {
      indices[row * k + lane] = static_cast<int32_t>(index_of_key(mine));
      weights[row * k + lane] = store<T>(exponential * (1.0f / total));
    }
  }
}

template <typename T, int kCapacity>
void launch_grid_topk(const T* scores, int64_t rows, int k, const GatingGrid& grid,
                      int64_t* indices, T* weights, cudaStream_t stream) {
  grid_topk_kernel<T, kCapacity>
      <<<grid_stride_blocks(rows * kWarpSize), kThreadsPerBlock, 0, stream>>>(scores, rows, k, grid,
                                                                               indices, weights);
  HIVE_CUDA_CHECK_LAUNCH();
}

// Warp w handles rows w, w + warps, ...; 1 <= k <= 32.
template <typename T>
__global__ void grid_topk_backward_kernel(const T* grad_weights, const T* weights,
                                          const int64_t* indices, int64_t rows, int k,
                                          GatingGrid grid, T* grad_scores) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int64_t warps = grid_thread_count() / kWarpSize;
  for (int64_t row = global_thread_index() / kWarpSize; row < rows; row += warps) {
    const int64_t base = row * k;
    // Softmax backward, g_j = w_j * (gw_j - sum_i w_i gw_i), with the sum taken in the CPU's
    // order by every lane; __fmul_rn keeps it from being fused into an FMA.
    float total = 0.0f;
    for (int i = 0; i < k; ++i) {
      total += __fmul_rn(load(grad_weights[base + i]), load(weights[base + i]));
    }
    float grad_score = 0.0f;
    int32_t coordinates[kMaxDims] = {};
    if (lane < k) {
      grad_score = load(weights[base + lane]) * (load(grad_weights[base + lane]) - total);
      decompose(static_cast<int32_t>(indices[base + lane]), grid, coordinates);
    }
    T* out = grad_scores + row * grid.width;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d >= grid.dims) break;
      // Whole warps per pass (the shuffles need every lane); entry c of dimension d sums the
      // chosen experts whose coordinate d is c, in choice order, from 0 as the CPU does.
      for (int32_t first = 0; first < grid.sizes[d]; first += kWarpSize) {
        const int32_t coordinate = first + lane;
        float sum = 0.0f;
        for (int j = 0; j < k; ++j) {
          const int32_t chosen_coordinate = __shfl_sync(0xffffffffu, coordinates[d], j);
          const float chosen_grad = __shfl_sync(0xffffffffu, grad_score, j);
          if (chosen_coordinate == coordinate) sum += chosen_grad;
        }
        if (coordinate < grid.sizes[d]) out[grid.offsets[d] + coordinate] = store<T>(sum);
      }
    }
  }
}

}  // namespace

void CudaBackend::grid_topk(const Tensor& dimension_scores, std::span<const int64_t> grid,
                            int64_t k, const Tensor& indices, const Tensor& weights) {
  const int64_t rows = dimension_scores.size(0);
  DeviceGuard guard(weights.device().index);
  if (rows == 0) return;
  const GatingGrid layout = gating_grid(grid);
  const cudaStream_t stream = stream_for(weights);
  dispatch_floating(dimension_scores.dtype(), [&]<typename T>() {
    const T* scores = device_data<const T>(dimension_scores);
    int64_t* top_experts = device_data<int64_t>(indices);
    T* top_weights = device_data<T>(weights);
    if (k <= kFastK) {
      launch_grid_topk<T, kFastK>(scores, rows, static_cast<int>(k), layout, top_experts,
                                  top_weights, stream);
    } else {
      launch_grid_topk<T, kMaxGatingK>(scores, rows, static_cast<int>(k), layout, top_experts,
                                       top_weights, stream);
    }
  });
}

void CudaBackend::grid_topk_backward(const Tensor& grad_weights, const Tensor& weights,
                                     const Tensor& indices, std::span<const int64_t> grid,
                                     const Tensor& grad_dimension_scores) {
  const int64_t rows = weights.size(0);
  const int k = static_cast<int>(weights.size(1));
  DeviceGuard guard(weights.device().index);
  if (rows == 0) return;
  const GatingGrid layout = gating_grid(grid);
  const cudaStream_t stream = stream_for(weights);
  dispatch_floating(weights.dtype(), [&]<typename T>() {
    grid_topk_backward_kernel<T>
        <<<grid_stride_blocks(rows * kWarpSize), kThreadsPerBlock, 0, stream>>>(
            device_data<const T>(grad_weights), device_data<const T>(weights),
            device_data<const int64_t>(indices), rows, k, layout,
            device_data<T>(grad_dimension_scores));
    HIVE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace hive::cuda
