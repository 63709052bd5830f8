// Dtype dispatch for CPU kernels: calls body.template operator()<T>() with the C++ type of dtype.
//
//   dispatch_floating(x.dtype(), [&]<typename T>() { kernel<T>(x.data<T>(), ...); });
//
// Floating kernels load every element as float, compute in float and store back (see
// load()/store()), so f16 and bf16 share the f32 code.
#pragma once

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "engine/core/half.h"

namespace hive::cpu {

template <typename Body>
void dispatch_floating(DType dtype, const Body& body) {
  switch (dtype) {
    case DType::kF32: body.template operator()<float>(); return;
    case DType::kF16: body.template operator()<Half>(); return;
    case DType::kBF16: body.template operator()<BFloat16>(); return;
    default: HIVE_CHECK(false, "dispatch_floating: dtype ", dtype, " reached a floating kernel");
  }
}

template <typename Body>
void dispatch_index(DType dtype, const Body& body) {
  switch (dtype) {
    case DType::kI32: body.template operator()<int32_t>(); return;
    case DType::kI64: body.template operator()<int64_t>(); return;
    default: HIVE_CHECK(false, "dispatch_index: dtype ", dtype, " reached an index kernel");
  }
}

template <typename Body>
void dispatch_all(DType dtype, const Body& body) {
  switch (dtype) {
    case DType::kF32: body.template operator()<float>(); return;
    case DType::kF16: body.template operator()<Half>(); return;
    case DType::kBF16: body.template operator()<BFloat16>(); return;
    case DType::kI32: body.template operator()<int32_t>(); return;
    case DType::kI64: body.template operator()<int64_t>(); return;
    case DType::kU8: body.template operator()<uint8_t>(); return;
  }
  HIVE_CHECK(false, "dispatch_all: unknown dtype");
}

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
