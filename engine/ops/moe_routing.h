// Mixture-of-Experts routing as tensor ops: the plan that groups each row's k choices by expert,
// dispatch (rows -> one grouped batch in expert order) and combine (the experts' grouped outputs
// -> weighted sums in row order). The plan is a stable counting sort computed on the indices'
// device; dispatch is one gather and combine one pass without atomics, so forward and backward
// are deterministic on every backend.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace hive {

struct MoePlan {
  int64_t rows = 0;  // n
  int64_t k = 0;     // choices per row
  // i64 [n * k] on the indices' device. Grouped order: experts ascending, and within an expert
  // the pairs in flat order r * k + j (so rows ascend).
  Tensor choice_slots;    // flat slot r * k + j of each grouped pair
  Tensor source_rows;     // its row r
  Tensor slot_positions;  // inverse: grouped position of slot r * k + j
  std::vector<int64_t> expert_counts;  // pairs per expert (host); sums to n * k
};

// expert_indices: i64 [n, k] with values in [0, num_experts); an index outside throws, naming
// its row and value.
MoePlan moe_plan(const Tensor& expert_indices, int64_t num_experts);

// x [n, d] -> [n * k, d] in grouped order: expert e's rows are the expert_counts[e] rows starting
// at the sum of the earlier counts. Differentiable (the backward sums each row's k copies).
Tensor moe_dispatch(const Tensor& x, const MoePlan& plan);

// grouped [n * k, d] (outputs in grouped order), weights [n, k] -> [n, d] with
// out[r] = sum over j of weights[r, j] * grouped[slot_positions[r * k + j]], summed in order j.
// Differentiable in grouped and weights.
Tensor moe_combine(const Tensor& grouped, const Tensor& weights, const MoePlan& plan);

}  // namespace hive
