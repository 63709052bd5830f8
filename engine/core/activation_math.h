// Scalar activation formulas shared by the CPU and CUDA kernels, so both compute the same values.
#pragma once

#include <cmath>

#include "engine/core/host_device.h"

namespace hive {

inline constexpr float kSqrtTwoOverPi = 0.7978845608028654f;
inline constexpr float kGeluCubic = 0.044715f;

// GELU, tanh approximation (as PyTorch's gelu(approximate="tanh")).
HIVE_HOST_DEVICE inline float gelu_tanh(float x) {
  const float inner = kSqrtTwoOverPi * (x + kGeluCubic * x * x * x);
  return 0.5f * x * (1.0f + ::tanhf(inner));
}

// d gelu_tanh(x) / dx.
HIVE_HOST_DEVICE inline float gelu_tanh_derivative(float x) {
  const float x_squared = x * x;
  const float inner = kSqrtTwoOverPi * (x + kGeluCubic * x_squared * x);
  const float t = ::tanhf(inner);
  const float d_inner = kSqrtTwoOverPi * (1.0f + 3.0f * kGeluCubic * x_squared);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * d_inner;
}

HIVE_HOST_DEVICE inline float sigmoid_of(float x) { return 1.0f / (1.0f + ::expf(-x)); }

}  // namespace hive
