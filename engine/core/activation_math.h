// Scalar activation formulas shared by the CPU and CUDA kernels, so both compute the same values.
#pragma once

#include <cmath>

#include "engine/core/host_device.h"

namespace hive {

inline constexpr float kSqrtTwoOverPi = 0.7978845608028654f;
inline constexpr float kGeluCubic = 0.044715f;

// GELU, tanh approximation (as PyTorch's gelu(approximate="tanh")):
//   0.5 x (1 + tanh(z)) with z = sqrt(2/pi) (x + 0.044715 x^3),
// computed as x * sigmoid(2z), since 0.5 (1 + tanh(z)) = sigmoid(2z): one exp instead of a tanh.
// `exp_function` lets each backend pass its fastest exp (the CPU's vectorizable one, CUDA's
// __expf).
template <typename Exp>
HIVE_HOST_DEVICE inline float gelu_tanh(float x, Exp exp_function) {
  const float z = kSqrtTwoOverPi * (x + kGeluCubic * x * x * x);
  return x / (1.0f + exp_function(-2.0f * z));
}

// d gelu_tanh(x) / dx = s + 2 x s (1 - s) dz/dx with s = sigmoid(2z).
template <typename Exp>
HIVE_HOST_DEVICE inline float gelu_tanh_derivative(float x, Exp exp_function) {
  const float x_squared = x * x;
  const float z = kSqrtTwoOverPi * (x + kGeluCubic * x_squared * x);
  const float s = 1.0f / (1.0f + exp_function(-2.0f * z));
  const float dz_dx = kSqrtTwoOverPi * (1.0f + 3.0f * kGeluCubic * x_squared);
  return s + 2.0f * x * s * (1.0f - s) * dz_dx;
}

template <typename Exp>
HIVE_HOST_DEVICE inline float sigmoid_of(float x, Exp exp_function) {
  return 1.0f / (1.0f + exp_function(-x));
}

}  // namespace hive
