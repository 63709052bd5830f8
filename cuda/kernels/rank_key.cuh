// One 64-bit key per element that ranks it as the CPU's topk does: by value (every NaN above
// everything, -0 equal to +0), then the lower index first. Larger keys rank higher and no two
// elements of a row share a key, so top-k becomes "k rounds of the largest key below the last
// one" or a plain descending sort of keys. Used by topk.cu and moe_gating.cu.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/launch.cuh"

namespace hive::cuda {

// Larger values get larger orders; never 0, so a key of 0 ranks below every element.
__device__ __forceinline__ uint32_t value_order(float value) {
  if (isnan(value)) return 0xffffffffu;
  const uint32_t bits = __float_as_uint(value == 0.0f ? 0.0f : value);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

// The value back from its order (-0 comes back as +0; NaN's order decodes to a NaN).
__device__ __forceinline__ float value_of_order(uint32_t order) {
  return __uint_as_float((order & 0x80000000u) != 0 ? order & 0x7fffffffu : ~order);
}

// Indices must fit in 32 bits (the callers check row lengths on the host).
__device__ __forceinline__ uint64_t rank_key(float value, uint32_t index) {
  return (static_cast<uint64_t>(value_order(value)) << 32) | (0xffffffffu - index);
}

__device__ __forceinline__ uint32_t index_of_key(uint64_t key) {
  return 0xffffffffu - static_cast<uint32_t>(key);
}

__device__ __forceinline__ float value_of_key(uint64_t key) {
  return value_of_order(static_cast<uint32_t>(key >> 32));
}

__device__ __forceinline__ uint64_t warp_max_key(uint64_t key) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const uint64_t other = __shfl_xor_sync(0xffffffffu, key, offset);
    key = other > key ? other : key;
  }
  return key;
}

}  // namespace hive::cuda
