// The k largest values along the last axis.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

struct TopK {
  Tensor values;   // [..., k], descending; differentiable
  Tensor indices;  // [..., k], i64 positions in the last axis
};

// Ties keep the lower index first and NaN counts as the largest value, so the choice is
// deterministic and the same on every backend. 0 <= k <= x.size(-1).
TopK topk(const Tensor& x, int64_t k);

}  // namespace hive
