// Evaluation metrics for classifiers.
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"

namespace hive::nn {

// Rows of logits [n, classes] whose largest logit (first on ties) is at labels[row] (i32/i64 [n]).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace hive::nn
