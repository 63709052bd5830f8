// Device-side element access: floating kernels load f16/bf16 as float and store back with one
// rounding (to nearest, ties to even), as engine/cpu/dispatch.h does on the host, so kernels are
// written once for the three floating dtypes.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "engine/core/half.h"

namespace hive::cuda {

__device__ __forceinline__ float load(float value) { return value; }
__device__ __forceinline__ float load(BFloat16 value) {
  return __uint_as_float(static_cast<uint32_t>(value.bits) << 16);
}
__device__ __forceinline__ float load(Half value) {
  return __half2float(__ushort_as_half(value.bits));
}

template <typename T>
__device__ __forceinline__ T store(float value);
template <>
__device__ __forceinline__ float store<float>(float value) { return value; }
template <>
__device__ __forceinline__ BFloat16 store<BFloat16>(float value) {
  const uint32_t bits = __float_as_uint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return {static_cast<uint16_t>((bits >> 16) | 0x0040u)};  // quiet NaN, sign kept
  }
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return {static_cast<uint16_t>((bits + rounding) >> 16)};
}
template <>
__device__ __forceinline__ Half store<Half>(float value) {
  return {__half_as_ushort(__float2half_rn(value))};
}

}  // namespace hive::cuda
