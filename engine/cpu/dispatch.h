// Element access for CPU kernels. Floating kernels load every element as float, compute in float
// and store back (load()/store()), so f16 and bf16 share the f32 code. Dtype dispatch itself is in
// engine/core/dtype_dispatch.h, shared with the CUDA backend.
#pragma once

#include <cstdint>

#include "engine/core/dtype_dispatch.h"
#include "engine/core/half.h"

namespace hive::cpu {

inline float load(float value) { return value; }
inline float load(Half value) { return to_float(value); }
inline float load(BFloat16 value) { return to_float(value); }

template <typename T>
T store(float value);
template <>
inline float store<float>(float value) { return value; }
template <>
inline Half store<Half>(float value) { return to_half(value); }
template <>
inline BFloat16 store<BFloat16>(float value) { return to_bfloat16(value); }

}  // namespace hive::cpu
