// Mixture-of-Experts routing kernels, mirroring engine/cpu/moe_routing.cpp.
//
// moe_plan: CUB's radix sort of the (row, choice) pairs by expert, which is stable, so within
// an expert the pairs keep their flat order. Keys are 32-bit expert numbers (out-of-range ones
// become E and sort last) and only the bits that E needs are sorted; the values are the flat
// slots, sorted straight into choice_slots. One pass then writes each pair's row and inverse
// position, and the counts come from the sorted keys by binary search, one thread per expert:
// no atomics, and experts without pairs get 0 with no memset.
//
// moe_combine and its backward give each output row (combine) or each (row, choice) pair
// (backward) to one block, whose threads walk the row's d elements in 16-byte packs when the
// row length and the pointers allow it: coalesced, vectorized, and without atomics, so every
// sum has one fixed order. Backward writes the pair's grouped gradient row and reduces its
// weight's gradient in the same pass over the row.
#include <cub/device/device_radix_sort.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "engine/core/dtype_dispatch.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// moe_plan

// keys[i]: pair i's expert, or `experts` when it is out of range; slots[i] = i.
__global__ void expert_keys_kernel(const int64_t* chosen, int64_t pairs, int64_t experts,
                                   uint32_t* keys, int64_t* slots) {
  for (int64_t i = global_thread_index(); i < pairs; i += grid_thread_count()) {
    const int64_t expert = chosen[i];
    keys[i] = static_cast<uint32_t>(expert >= 0 && expert < experts ? expert : experts);
    slots[i] = i;
  }
}

// Grouped position p holds slot choice_slots[p] = r * k + j: its row, and the inverse.
__global__ void plan_positions_kernel(const int64_t* choice_slots, int64_t pairs, int64_t k,
                                      int64_t* source_rows, int64_t* slot_positions) {
  for (int64_t p = global_thread_index(); p < pairs; p += grid_thread_count()) {
    const int64_t slot = choice_slots[p];
    source_rows[p] = slot / k;
    slot_positions[slot] = p;
  }
}

// The first position in sorted[0, count) whose key is not below `key`.
__device__ int64_t lower_bound(const uint32_t* sorted, int64_t count, int64_t key) {
  int64_t low = 0;
  while (count > 0) {
    const int64_t half = count / 2;
    if (static_cast<int64_t>(sorted[low + half]) < key) {
      low += half + 1;
      count -= half + 1;
    } else {
      count = half;
    }
  }
  return low;
}

// counts[e] for e in [0, experts]: the length of key e's run in the sorted keys.
__global__ void expert_counts_kernel(const uint32_t* sorted_keys, int64_t pairs, int64_t experts,
                                     int64_t* counts) {
  for (int64_t e = global_thread_index(); e <= experts; e += grid_thread_count()) {
    counts[e] = lower_bound(sorted_keys, pairs, e + 1) - lower_bound(sorted_keys, pairs, e);
  }
}

// Sorts the pairs by expert (choice_slots gets the slots in grouped order) and writes
// source_rows and slot_positions. Returns the memory holding the sorted keys, which the caller
// keeps until the counts kernel that reads them is queued.
std::shared_ptr<std::byte> group_pairs(const int64_t* chosen, int64_t pairs, int64_t k,
                                       int64_t experts, int64_t* choice_slots,
                                       int64_t* source_rows, int64_t* slot_positions, int device,
                                       cudaStream_t stream) {
  const auto size = static_cast<size_t>(pairs);
  auto keys_memory = allocate_device_memory(2 * size * sizeof(uint32_t), device);
  auto* keys = reinterpret_cast<uint32_t*>(keys_memory.get());
  uint32_t* sorted_keys = keys + pairs;
  const auto slots_memory = allocate_device_memory(size * sizeof(int64_t), device);
  auto* slots = reinterpret_cast<int64_t*>(slots_memory.get());
  expert_keys_kernel<<<grid_stride_blocks(pairs), kThreadsPerBlock, 0, stream>>>(
      chosen, pairs, experts, keys, slots);
  HIVE_CUDA_CHECK_LAUNCH();

  // Keys go up to `experts` itself (the out-of-range bucket).
  const int end_bit = static_cast<int>(std::bit_width(static_cast<uint64_t>(experts)));
  size_t scratch_bytes = 0;
  HIVE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, scratch_bytes, keys, sorted_keys,
                                                  slots, choice_slots, pairs, 0, end_bit, stream));
  const auto scratch = allocate_device_memory(std::max<size_t>(scratch_bytes, 1), device);
  HIVE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch.get(), scratch_bytes, keys, sorted_keys,
                                                  slots, choice_slots, pairs, 0, end_bit, stream));

  plan_positions_kernel<<<grid_stride_blocks(pairs), kThreadsPerBlock, 0, stream>>>(
      choice_slots, pairs, k, source_rows, slot_positions);
  HIVE_CUDA_CHECK_LAUNCH();
  return keys_memory;
}

// ---------------------------------------------------------------------------------------------
// moe_combine and its backward: rows of `width` elements, moved kWidth at a time.

constexpr size_t kPackBytes = 16;

template <typename T, int kWidth>
struct alignas(sizeof(T) * kWidth) Pack {
  T values[kWidth];
};

__device__ __forceinline__ uint32_t bits_of(float value) { return __float_as_uint(value); }
__device__ __forceinline__ uint32_t bits_of(BFloat16 value) { return value.bits; }
__device__ __forceinline__ uint32_t bits_of(Half value) { return value.bits; }

// A full pack moves as one 16-byte access, through the intrinsics: with plain accesses the
// compiler was seen splitting the store into four (nvcc 13). Sources are never written by the
// kernel that reads them, so loads may take the read-only path.
template <typename T, int kWidth>
__device__ __forceinline__ Pack<T, kWidth> load_pack(const T* source) {
  Pack<T, kWidth> pack;
  if constexpr (sizeof(pack) == kPackBytes) {
    const uint4 bits = __ldg(reinterpret_cast<const uint4*>(source));
    memcpy(&pack, &bits, sizeof(pack));
  } else {
    pack = *reinterpret_cast<const Pack<T, kWidth>*>(source);
  }
  return pack;
}

template <typename T, int kWidth>
__device__ __forceinline__ void store_pack(T* target, const Pack<T, kWidth>& pack) {
  if constexpr (sizeof(pack) == kPackBytes) {
    // Element i of the pack sits in the low bits first (little endian), as in memory.
    constexpr int kPerWord = static_cast<int>(sizeof(uint32_t) / sizeof(T));
    uint32_t words[4] = {};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
#pragma unroll
      for (int i = 0; i < kPerWord; ++i) {
        words[w] |= bits_of(pack.values[w * kPerWord + i]) << (8 * sizeof(T) * i);
      }
    }
    __stwb(reinterpret_cast<uint4*>(target), make_uint4(words[0], words[1], words[2], words[3]));
  } else {
    *reinterpret_cast<Pack<T, kWidth>*>(target) = pack;
  }
}

// Block b handles output rows b, b + blocks, ...; `packs` is the row length in packs. weights
// may be null (every weight 1).
template <typename T, int kWidth>
__global__ void moe_combine_kernel(const T* grouped, const T* weights,
                                   const int64_t* slot_positions, int64_t rows, int64_t k,
                                   int64_t packs, T* out) {
  const int64_t width = packs * kWidth;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    for (int64_t c = threadIdx.x; c < packs; c += blockDim.x) {
      float sum[kWidth] = {};
      for (int64_t j = 0; j < k; ++j) {
        const int64_t slot = r * k + j;
        const float weight = weights != nullptr ? load(weights[slot]) : 1.0f;
        const auto in = load_pack<T, kWidth>(grouped + slot_positions[slot] * width + c * kWidth);
#pragma unroll
        for (int i = 0; i < kWidth; ++i) sum[i] += weight * load(in.values[i]);
      }
      Pack<T, kWidth> result;
#pragma unroll
      for (int i = 0; i < kWidth; ++i) result.values[i] = store<T>(sum[i]);
      store_pack(out + r * width + c * kWidth, result);
    }
  }
}

// Block b handles slots (pairs) b, b + blocks, ...; either output may be null, and so may
// weights (every weight 1).
template <typename T, int kWidth>
__global__ void moe_combine_backward_kernel(const T* grad_out, const T* grouped, const T* weights,
                                            const int64_t* slot_positions, int64_t slots,
                                            int64_t k, int64_t packs, T* grad_grouped,
                                            T* grad_weights) {
  __shared__ float scratch[kWarpSize];
  const int64_t width = packs * kWidth;
  for (int64_t slot = blockIdx.x; slot < slots; slot += gridDim.x) {
    const T* gradient = grad_out + (slot / k) * width;
    const int64_t position_offset = slot_positions[slot] * width;
    const float weight = weights != nullptr ? load(weights[slot]) : 1.0f;
    float dot = 0.0f;
    for (int64_t c = threadIdx.x; c < packs; c += blockDim.x) {
      const auto g = load_pack<T, kWidth>(gradient + c * kWidth);
      if (grad_grouped != nullptr) {
        Pack<T, kWidth> scaled;
#pragma unroll
        for (int i = 0; i < kWidth; ++i) scaled.values[i] = store<T>(weight * load(g.values[i]));
        store_pack(grad_grouped + position_offset + c * kWidth, scaled);
      }
      if (grad_weights != nullptr) {
        const auto y = load_pack<T, kWidth>(grouped + position_offset + c * kWidth);
#pragma unroll
        for (int i = 0; i < kWidth; ++i) dot += load(g.values[i]) * load(y.values[i]);
      }
    }
    if (grad_weights != nullptr) {
      dot = block_sum(dot, scratch);
      if (threadIdx.x == 0) grad_weights[slot] = store<T>(dot);
    }
  }
}

// Whether rows of `width` elements of T move in 16-byte packs: the row length and every given
// pointer (null ones aside) must be multiples of 16 bytes.
template <typename T>
bool rows_fit_packs(int64_t width, std::initializer_list<const void*> data) {
  if ((static_cast<size_t>(width) * sizeof(T)) % kPackBytes != 0) return false;
  return std::all_of(data.begin(), data.end(), [](const void* pointer) {
    return reinterpret_cast<uintptr_t>(pointer) % kPackBytes == 0;
  });
}

template <typename T>
const T* optional_data(const Tensor& tensor) {
  return tensor.defined() ? device_data<const T>(tensor) : nullptr;
}

template <typename T>
T* optional_output(const Tensor& tensor) {
  return tensor.defined() ? device_data<T>(tensor) : nullptr;
}

template <typename T, int kWidth>
void launch_combine(const T* grouped, const T* weights, const int64_t* slot_positions,
                    int64_t rows, int64_t k, int64_t width, T* out, cudaStream_t stream) {
  const int64_t packs = width / kWidth;
  moe_combine_kernel<T, kWidth><<<row_blocks(rows), row_threads(packs), 0, stream>>>(
      grouped, weights, slot_positions, rows, k, packs, out);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T, int kWidth>
void launch_combine_backward(const T* grad_out, const T* grouped, const T* weights,
                             const int64_t* slot_positions, int64_t slots, int64_t k,
                             int64_t width, T* grad_grouped, T* grad_weights,
                             cudaStream_t stream) {
  const int64_t packs = width / kWidth;
  moe_combine_backward_kernel<T, kWidth><<<row_blocks(slots), row_threads(packs), 0, stream>>>(
      grad_out, grouped, weights, slot_positions, slots, k, packs, grad_grouped, grad_weights);
  HIVE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::moe_plan(const Tensor& expert_indices, const Tensor& counts,
                           const Tensor& choice_slots, const Tensor& source_rows,
                           const Tensor& slot_positions) {
  const int device = counts.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = stream_for(counts);
  const int64_t pairs = expert_indices.numel();
  const int64_t experts = counts.numel() - 1;
  HIVE_REQUIRE(experts < int64_t{std::numeric_limits<uint32_t>::max()}, "moe_plan on CUDA: ",
               experts, " experts, but its 32-bit sort keys allow at most ",
               std::numeric_limits<uint32_t>::max() - 1);
  std::shared_ptr<std::byte> sorted_keys_memory;
  if (pairs > 0) {
    sorted_keys_memory = group_pairs(
        device_data<const int64_t>(expert_indices), pairs, expert_indices.size(1), experts,
        device_data<int64_t>(choice_slots), device_data<int64_t>(source_rows),
        device_data<int64_t>(slot_positions), device, stream);
  }
  const auto* sorted_keys =
      pairs > 0 ? reinterpret_cast<const uint32_t*>(sorted_keys_memory.get()) + pairs : nullptr;
  expert_counts_kernel<<<grid_stride_blocks(experts + 1), kThreadsPerBlock, 0, stream>>>(
      sorted_keys, pairs, experts, device_data<int64_t>(counts));
  HIVE_CUDA_CHECK_LAUNCH();
}

void CudaBackend::moe_combine(const Tensor& grouped, const Tensor& weights,
                              const Tensor& slot_positions, const Tensor& out) {
  const int64_t rows = out.size(0);
  const int64_t width = out.size(1);
  DeviceGuard guard(out.device().index);
  if (rows == 0 || width == 0) return;
  const int64_t k = slot_positions.numel() / rows;
  const cudaStream_t stream = stream_for(out);
  dispatch_floating(out.dtype(), [&]<typename T>() {
    const T* source = device_data<const T>(grouped);
    const T* weight = optional_data<T>(weights);
    const int64_t* positions = device_data<const int64_t>(slot_positions);
    T* result = device_data<T>(out);
    if (rows_fit_packs<T>(width, {source, result})) {
      launch_combine<T, kPackBytes / sizeof(T)>(source, weight, positions, rows, k, width, result,
                                                 stream);
    } else {
      launch_combine<T, 1>(source, weight, positions, rows, k, width, result, stream);
    }
  });
}

void CudaBackend::moe_combine_backward(const Tensor& grad_out, const Tensor& grouped,
                                       const Tensor& weights, const Tensor& slot_positions,
                                       const Tensor& grad_grouped, const Tensor& grad_weights) {
  const int64_t rows = grad_out.size(0);
  const int64_t width = grad_out.size(1);
  const int64_t slots = slot_positions.numel();
  DeviceGuard guard(grad_out.device().index);
  if (slots == 0 || (!grad_grouped.defined() && !grad_weights.defined())) return;
  const int64_t k = slots / rows;
  const cudaStream_t stream = stream_for(grad_out);
  dispatch_floating(grad_out.dtype(), [&]<typename T>() {
    const T* gradient = device_data<const T>(grad_out);
    const T* source = optional_data<T>(grouped);
    const T* weight = optional_data<T>(weights);
    const int64_t* positions = device_data<const int64_t>(slot_positions);
    T* grad_source = optional_output<T>(grad_grouped);
    T* grad_weight = optional_output<T>(grad_weights);
    if (rows_fit_packs<T>(width, {gradient, source, grad_source})) {
      launch_combine_backward<T, kPackBytes / sizeof(T)>(gradient, source, weight, positions,
                                                          slots, k, width, grad_source,
                                                          grad_weight, stream);
    } else {
      launch_combine_backward<T, 1>(gradient, source, weight, positions, slots, k, width,
                                    grad_source, grad_weight, stream);
    }
  });
}

}  // namespace hive::cuda
