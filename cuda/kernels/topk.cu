// Top-k along the last axis, mirroring CpuBackend::topk: the k largest of each row in
// descending order, ties broken by the lower index, NaN above everything (as PyTorch).
//
// Both paths rank elements by one 64-bit key, (order of the value, then the complement of the
// index): distinct for every element of a row and larger exactly when the CPU's comparator puts
// the element first, so the result cannot depend on how the work is split.
// - Small k (the MoE router: k <= 8 over at most a few thousand experts): one warp per row picks
//   the k keys one round at a time, each round the largest key below the previous round's.
// - Otherwise: the keys of a chunk of rows are sorted per row with CUB's segmented sort and the
//   first k of each row are written out.
#include <cub/device/device_segmented_sort.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/rank_key.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "engine/core/dtype_dispatch.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// The selection path keeps result j in lane j of the row's warp.
constexpr int64_t kMaxSelectionK = kWarpSize;
// Selection reads the row k times; past about 4096 reads per lane a sort should be cheaper
// (an estimate, not a measurement).
constexpr int64_t kMaxSelectionReads = int64_t{kWarpSize} * 4096;
// Rows are sorted in chunks of about this many elements, which bounds the temporary memory
// (two 8-byte keys per element plus CUB's scratch).
constexpr int64_t kSortChunkElements = int64_t{1} << 23;

// ---------------------------------------------------------------------------------------------
// Selection: warp w handles rows w, w + warps, ...; k <= 32.

template <typename T>
__global__ void topk_by_selection_kernel(const T* x, int64_t rows, int64_t width, int64_t k,
                                         T* values, int64_t* indices) {
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int64_t warps = grid_thread_count() / kWarpSize;
  for (int64_t row = global_thread_index() / kWarpSize; row < rows; row += warps) {
    const T* line = x + row * width;
    uint64_t previous = 0;  // the key chosen by the last round; every later key is below it
    uint64_t mine = 0;      // lane j keeps the key of round j
    for (int64_t j = 0; j < k; ++j) {
      uint64_t best = 0;
      for (int64_t c = lane; c < width; c += kWarpSize) {
        const uint64_t key = rank_key(load(line[c]), static_cast<uint32_t>(c));
        if ((j == 0 || key < previous) && key > best) best = key;
      }
      previous = warp_max_key(best);
      if (lane == j) mine = previous;
    }
    if (lane < k) {
      const int64_t index = index_of_key(mine);
      values[row * k + lane] = line[index];
      indices[row * k + lane] = index;
    }
  }
}

template <typename T>
void topk_by_selection(const T* x, int64_t rows, int64_t width, int64_t k, T* values,
                       int64_t* indices, cudaStream_t stream) {
  topk_by_selection_kernel<<<grid_stride_blocks(rows * kWarpSize), kThreadsPerBlock, 0, stream>>>(
      x, rows, width, k, values, indices);
  HIVE_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------------------------------------
// Sorting: a chunk of rows at a time, keys laid out like the rows.

template <typename T>
__global__ void rank_keys_kernel(const T* x, int64_t width, int64_t total, uint64_t* keys) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    keys[e] = rank_key(load(x[e]), static_cast<uint32_t>(e % width));
  }
}

// offsets[r] = r * width for r in [0, count): where row r of a chunk begins (and row r - 1 ends).
__global__ void row_offsets_kernel(int64_t width, int64_t count, int64_t* offsets) {
  for (int64_t r = global_thread_index(); r < count; r += grid_thread_count()) {
    offsets[r] = r * width;
  }
}

// total = rows * k outputs; sorted holds each row's keys in descending order.
template <typename T>
__global__ void write_sorted_topk_kernel(const T* x, const uint64_t* sorted, int64_t width,
                                         int64_t k, int64_t total, T* values, int64_t* indices) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    const int64_t row = e / k;
    const int64_t index = index_of_key(sorted[row * width + (e - row * k)]);
    values[e] = x[row * width + index];
    indices[e] = index;
  }
}

// CUB's scratch bytes for sorting `rows` rows of `width` keys between the two buffers.
size_t sort_scratch_bytes(uint64_t* first_keys, uint64_t* second_keys, const int64_t* offsets,
                          int64_t rows, int64_t width, cudaStream_t stream) {
  cub::DoubleBuffer<uint64_t> keys(first_keys, second_keys);
  size_t bytes = 0;
  HIVE_CUDA_CHECK(cub::DeviceSegmentedSort::SortKeysDescending(
      nullptr, bytes, keys, rows * width, rows, offsets, offsets + 1, stream));
  return bytes;
}

template <typename T>
void topk_by_sorting(const T* x, int64_t rows, int64_t width, int64_t k, T* values,
                     int64_t* indices, int device, cudaStream_t stream) {
  const int64_t chunk_rows = std::clamp<int64_t>(kSortChunkElements / width, 1, rows);
  const int64_t chunk_elements = chunk_rows * width;
  const auto offsets_memory =
      allocate_device_memory(static_cast<size_t>(chunk_rows + 1) * sizeof(int64_t), device);
  auto* offsets = reinterpret_cast<int64_t*>(offsets_memory.get());
  row_offsets_kernel<<<grid_stride_blocks(chunk_rows + 1), kThreadsPerBlock, 0, stream>>>(
      width, chunk_rows + 1, offsets);
  HIVE_CUDA_CHECK_LAUNCH();

  const auto keys_memory =
      allocate_device_memory(2 * static_cast<size_t>(chunk_elements) * sizeof(uint64_t), device);
  auto* first_keys = reinterpret_cast<uint64_t*>(keys_memory.get());
  uint64_t* second_keys = first_keys + chunk_elements;
  // The last chunk may have fewer rows; ask for both sizes rather than assume which is larger.
  const int64_t last_rows = rows - (rows - 1) / chunk_rows * chunk_rows;
  const size_t scratch_bytes = std::max(
      sort_scratch_bytes(first_keys, second_keys, offsets, chunk_rows, width, stream),
      sort_scratch_bytes(first_keys, second_keys, offsets, last_rows, width, stream));
  const auto scratch = allocate_device_memory(std::max<size_t>(scratch_bytes, 1), device);

  for (int64_t first_row = 0; first_row < rows; first_row += chunk_rows) {
    const int64_t count = std::min(chunk_rows, rows - first_row);
    const T* chunk = x + first_row * width;
    // The sort leaves the keys in whichever buffer Current() names afterwards.
    cub::DoubleBuffer<uint64_t> keys(first_keys, second_keys);
    rank_keys_kernel<<<grid_stride_blocks(count * width), kThreadsPerBlock, 0, stream>>>(
        chunk, width, count * width, keys.Current());
    HIVE_CUDA_CHECK_LAUNCH();
    size_t bytes = scratch_bytes;
    HIVE_CUDA_CHECK(cub::DeviceSegmentedSort::SortKeysDescending(
        scratch.get(), bytes, keys, count * width, count, offsets, offsets + 1, stream));
    write_sorted_topk_kernel<<<grid_stride_blocks(count * k), kThreadsPerBlock, 0, stream>>>(
        chunk, keys.Current(), width, k, count * k, values + first_row * k,
        indices + first_row * k);
    HIVE_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void CudaBackend::topk(const Tensor& x, int64_t k, const Tensor& values, const Tensor& indices) {
  const int64_t width = x.size(-1);
  const int64_t rows = width == 0 ? 0 : x.numel() / width;
  DeviceGuard guard(values.device().index);
  if (k == 0 || rows == 0) return;
  HIVE_REQUIRE(width <= std::numeric_limits<int32_t>::max(), "topk on CUDA: rows of ", width,
               " elements are longer than the supported 2^31 - 1");
  const cudaStream_t stream = stream_for(values);
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* in = device_data<const T>(x);
    T* top_values = device_data<T>(values);
    int64_t* top_indices = device_data<int64_t>(indices);
    if (k <= kMaxSelectionK && k * width <= kMaxSelectionReads) {
      topk_by_selection(in, rows, width, k, top_values, top_indices, stream);
    } else {
      topk_by_sorting(in, rows, width, k, top_values, top_indices, values.device().index, stream);
    }
  });
}

}  // namespace hive::cuda
