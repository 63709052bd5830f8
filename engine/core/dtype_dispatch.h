// Dtype dispatch for backend kernels: calls body.template operator()<T>() with the C++ type that
// stores dtype's elements (float, Half, BFloat16, int32_t, int64_t, uint8_t).
//
//   dispatch_floating(x.dtype(), [&]<typename T>() { kernel<T>(x.raw_data(), ...); });
//
// Shared by the CPU backend and the CUDA backend (host side), so both accept the same dtypes.
#pragma once

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/core/error.h"
#include "engine/core/half.h"

namespace hive {

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

}  // namespace hive
