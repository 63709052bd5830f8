// Block-wide reductions for kernels that give one row to one block: warp shuffles, then one
// value per warp through shared memory. Every thread of the block must call them (they
// synchronize) and every thread gets the result.
#pragma once

#include <cuda_runtime.h>


namespace hive::cuda {

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = 16; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  }
  return value;
}

// `scratch` holds at least 32 floats of shared memory; it may be reused after the call returns.
template <bool kMax>
__device__ __forceinline__ float block_reduce(float value, float* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int warps = (static_cast<int>(blockDim.x) + 31) / 32;
  value = kMax ? warp_max(value) : warp_sum(value);
  __syncthreads();  // scratch may still be read by an earlier call
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  const float identity = kMax ? -__int_as_float(0x7f800000) : 0.0f;  // -inf or 0
  value = lane < warps ? scratch[lane] : identity;
  if (kMax) {
    value = warp_max(value);
  } else {
    value = warp_sum(value);
  }
  return value;
}

__device__ __forceinline__ float block_sum(float value, float* scratch) {
  return block_reduce<false>(value, scratch);
}
__device__ __forceinline__ float block_max(float value, float* scratch) {
  return block_reduce<true>(value, scratch);
}

}  // namespace hive::cuda
