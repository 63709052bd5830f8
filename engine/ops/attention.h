// Scaled dot-product attention over every head at once (CPU: OpenBLAS per (batch, head); CUDA:
// cuBLAS batched products and hand-written softmax kernels).
#pragma once

#include "engine/core/tensor.h"

namespace hive {

// softmax(scale * q k^T + key_bias) v for every batch and head. queries [b, s_q, heads, d], keys
// and values [b, s_k, heads, d] (the "BSHD" layout: a fused in-projection's [b, s, 3 * heads * d]
// output split in three and reshaped, so callers need no per-head split or concat); returns
// [b, s_q, heads, d]. q, k and v share one floating dtype and device; scores, softmax and sums
// are computed in f32. key_bias [b, s_k] (same dtype and device) is added to every query's score
// for that key: 0 to attend, a large negative number or -inf to mask (padding); undefined: no
// bias. A query whose keys are all masked with -inf gets a zero output (and zero gradients), not
// NaN. Differentiable in queries, keys and values; key_bias gets no gradient (it is a mask).
Tensor scaled_dot_product_attention(const Tensor& queries, const Tensor& keys,
                                    const Tensor& values, const Tensor& key_bias, float scale);

}  // namespace hive
