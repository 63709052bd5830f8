// Launch shapes and helpers shared by the hand-written kernels.
//
// Elementwise kernels use grid-stride loops over int64 indices with a grid capped at a few
// waves of blocks, so one launch covers any size. Every launcher returns early for empty
// work (a grid of 0 blocks is a launch error) and checks the launch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/runtime/check.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/tensor.h"

namespace hive::cuda {

inline constexpr int kThreadsPerBlock = 256;
inline constexpr int kWarpSize = 32;
// Grids stop growing here: 32 blocks per SM of an H100/H200 are several waves already, and
// kernels loop (grid-stride, or rows blockIdx.x, blockIdx.x + gridDim.x, ...) over the rest.
inline constexpr int64_t kMaxBlocks = 132 * 32;

// Blocks for a grid-stride loop over `count` elements: enough to fill the device several times
// over, never more than the work needs.
inline unsigned int grid_stride_blocks(int64_t count) {
  return static_cast<unsigned int>(
      std::clamp<int64_t>((count + kThreadsPerBlock - 1) / kThreadsPerBlock, 1, kMaxBlocks));
}

// Threads of a block that owns one row of `length` elements: whole warps (block_reduce needs
// them), no more than the row can use.
inline unsigned int row_threads(int64_t length) {
  const int64_t warps =
      std::clamp<int64_t>((length + kWarpSize - 1) / kWarpSize, 1, kThreadsPerBlock / kWarpSize);
  return static_cast<unsigned int>(warps * kWarpSize);
}

// Blocks of a one-block-per-row kernel, which walks rows blockIdx.x, blockIdx.x + gridDim.x, ...
// so any number of rows fits; 0 when there are no rows.
inline unsigned int row_blocks(int64_t rows) {
  return static_cast<unsigned int>(std::min(rows, kMaxBlocks));
}

// The stream that work on `tensor`'s device goes to from this thread.
inline cudaStream_t stream_for(const Tensor& tensor) {
  return current_stream(tensor.device().index);
}

template <typename T>
T* device_data(const Tensor& tensor) {
  return static_cast<T*>(tensor.raw_data());
}

__device__ __forceinline__ int64_t global_thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_thread_count() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace hive::cuda
