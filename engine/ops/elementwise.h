// Elementwise ops. Binary ops broadcast like NumPy; both operands need the same dtype and device.
// All differentiable ops record their backward when an input requires grad.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// x [..., c] + bias [c]: the Linear layer's bias.
Tensor bias_add(const Tensor& x, const Tensor& bias);

// scale * x + shift with float scalars.
Tensor affine(const Tensor& x, float scale, float shift);
Tensor scale(const Tensor& x, float factor);  // factor * x
Tensor add_scalar(const Tensor& x, float value);

Tensor neg(const Tensor& x);
Tensor relu(const Tensor& x);
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Tensor gelu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);

// Sums x down to `shape` (the reverse of broadcasting `shape` up to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);

// In place, never recorded: target += source (same shape). For gradient accumulation.
void add_(const Tensor& target, const Tensor& source);
// In place, never recorded: x *= factor.
void scale_(const Tensor& x, float factor);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator*(const Tensor& x, float factor) { return scale(x, factor); }
inline Tensor operator*(float factor, const Tensor& x) { return scale(x, factor); }

}  // namespace hive
