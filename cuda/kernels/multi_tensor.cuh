// Multi-tensor launches, as PyTorch's multi_tensor_apply: the pointers of up to
// kTensorsPerLaunch tensors travel in the kernel's parameter struct (no device buffer to fill,
// nothing on the host to keep alive), every tensor is cut into chunks of kChunkElements, and one
// block works on one chunk. A list of hundreds of small tensors (a model's parameters) thus
// costs a handful of launches instead of one each. Used by the optimizers and cast_many.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/launch.cuh"

namespace hive::cuda {

// 64 tensors keep the largest parameter struct (the Adam optimizer's) under the classic 4 KiB
// launch parameter limit.
inline constexpr int kTensorsPerLaunch = 64;
inline constexpr int64_t kChunkElements = int64_t{kThreadsPerBlock} * 32;

// Which chunks of the launch belong to which tensor: tensor i owns chunks
// [first_chunk[i], first_chunk[i + 1]), the last of them possibly partial.
struct ChunkTable {
  int64_t numel[kTensorsPerLaunch];
  int64_t first_chunk[kTensorsPerLaunch];
  int64_t chunks;  // of the whole launch: its grid size
  int count;       // tensors in the launch
};

// Appends a tensor of `numel` (> 0) elements; returns its slot in the launch's lists.
inline int add_tensor(ChunkTable& table, int64_t numel) {
  const int slot = table.count++;
  table.numel[slot] = numel;
  table.first_chunk[slot] = table.chunks;
  table.chunks += (numel + kChunkElements - 1) / kChunkElements;
  return slot;
}

struct ChunkRange {
  int tensor;
  int64_t begin;
  int64_t end;
};

// The elements this block updates: the tensor that owns chunk blockIdx.x (a binary search over
// first_chunk, which increases with the slot) and the chunk's range in it.
__device__ inline ChunkRange block_chunk(const ChunkTable& table) {
  const int64_t chunk = blockIdx.x;
  int low = 0;  // the owner is the last tensor whose first chunk is <= chunk
  int high = table.count - 1;
  while (low < high) {
    const int middle = (low + high + 1) / 2;
    if (table.first_chunk[middle] <= chunk) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  const int64_t begin = (chunk - table.first_chunk[low]) * kChunkElements;
  return {low, begin, min(begin + kChunkElements, table.numel[low])};
}

}  // namespace hive::cuda
