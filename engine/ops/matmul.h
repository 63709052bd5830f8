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

// Swaps the last two axes (a copy, since tensors are contiguous).
Tensor transpose(const Tensor& x);

}  // namespace hive
