// Maps C++ element types to DType: dtype_of<float>() == DType::kF32.
#pragma once

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/core/half.h"

namespace hive {

template <typename T>
constexpr DType dtype_of() = delete;
template <>
constexpr DType dtype_of<float>() { return DType::kF32; }
template <>
constexpr DType dtype_of<Half>() { return DType::kF16; }
template <>
constexpr DType dtype_of<BFloat16>() { return DType::kBF16; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::kI32; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::kI64; }
template <>
constexpr DType dtype_of<uint8_t>() { return DType::kU8; }

}  // namespace hive
