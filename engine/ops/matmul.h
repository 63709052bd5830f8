// Matrix products (CPU: OpenBLAS; CUDA: cuBLASLt).
#pragma once

#include "engine/core/tensor.h"

namespace hive {

// a [m, k] @ b [k, n] -> [m, n].
// a [..., m, k] @ b [k, n] -> [..., m, n] (b shared by every leading index of a).
// a [B..., m, k] @ b [B..., k, n] -> [B..., m, n] (batched; leading dimensions must be equal).
Tensor matmul(const Tensor& a, const Tensor& b);

// x [..., in] @ weight^T + bias: weight is [out, in] (PyTorch's layout), bias is [out] or
// undefined. Returns [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// gelu(linear(x, weight, bias)) (the tanh approximation, as gelu()) in one product: the GELU is
// the GEMM's epilogue (CUDA: cuBLASLt's GELU_AUX_BIAS, which also keeps the pre-activation for
// the backward), so the [..., out] activation is not written and read back once more.
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias);

// linear(linear_gelu(x, w1, b1), w2, b2), the two-layer feed-forward block: w1 [hidden, in],
// w2 [out, hidden], biases [hidden] and [out] or undefined; returns [..., out]. The same
// values as that composition (on the CPU bit for bit), in fewer passes: one autograd node
// whose backward carries dy through W2 and the GELU's derivative in one product (the
// kGeluBackwardBiasGradient epilogue, which also sums b1's gradient), and takes each bias
// gradient from its weight gradient's product (kBiasGradient).
Tensor feed_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                    const Tensor& b2);

// Swaps the last two axes (a copy, since tensors are contiguous).
Tensor transpose(const Tensor& x);

}  // namespace hive
