// Softmax, log-softmax and the fused softmax + cross-entropy loss.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

// Mean over rows of -log softmax(logits)[row, label[row]]: logits [n, c] float, labels [n] i32 or
// i64 with every label in [0, c). Returns a f32 scalar. Differentiable in logits.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace hive
