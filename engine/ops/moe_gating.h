// Mixture-of-Experts gating over a grid of experts, fused: each row's k best experts and their
// softmax weights straight from the per-dimension scores, without the [n, prod(grid)] matrix of
// expert scores that grid_scores + topk + softmax would build.
#pragma once

#include <cstdint>
#include <span>

#include "engine/core/tensor.h"

namespace hive {

struct GridTopK {
  Tensor indices;  // i64 [n, k]: expert numbers (row-major over the grid), best first
  Tensor weights;  // [n, k], dimension_scores' dtype: softmax over the chosen experts' scores
};

// dimension_scores [n, sum(grid)] float holds grid[0] scores for dimension 0, then grid[1] for
// dimension 1, ...; expert e's score is the sum of its coordinates' scores. The choice is
// topk's over those scores (ties lower index first, NaN largest). Requires 1 <= grid.size() <= 8,
// positive sizes, fewer than 2^31 experts and 1 <= k <= min(32, prod(grid)). weights are
// differentiable in dimension_scores.
GridTopK grid_topk(const Tensor& dimension_scores, std::span<const int64_t> grid, int64_t k);

}  // namespace hive
