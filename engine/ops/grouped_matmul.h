// Linear layers of many experts over their row groups at once: what a Mixture-of-Experts layer
// runs after dispatch. One grouped GEMM forward (CUDA: one cuBLAS grouped launch instead of one
// per expert), three in backward (input, weights, biases), whatever the number of groups.
#pragma once

#include <cstdint>
#include <span>

#include "engine/core/tensor.h"

namespace hive {

// x [m, in] holds consecutive row groups: group g is the group_rows[g] rows after the earlier
// groups' (sum(group_rows) == m; a group may be empty). Returns [m, out] where group g's rows are
// x_g @ weights[g]^T + biases[g]. weights[g] is [out, in] (PyTorch's layout), biases[g] is [out];
// biases is either empty (no bias) or one per group. All tensors share x's dtype and device.
// Differentiable in x, every weight and every bias.
Tensor grouped_linear(const Tensor& x, std::span<const int64_t> group_rows,
                      std::span<const Tensor> weights, std::span<const Tensor> biases);

}  // namespace hive
