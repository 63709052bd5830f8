// Routing rows to experts and back: the dispatch/combine pair of a Mixture-of-Experts layer.
//
// Each of n rows picked k experts (expert_indices [n, k]) with weights [n, k]. Dispatch groups
// the n*k (row, choice) pairs by expert so each expert gets all its rows in one batch (one call
// per expert, not per row); combine puts the experts' outputs back into row order, each scaled by
// its weight and summed over the row's k choices. The local layer below and the distributed layer
// in moe/ share this code, which is why they can agree exactly.
#pragma once

#include <span>
#include <vector>

#include "engine/core/tensor.h"

namespace hive::nn {

struct DispatchPlan {
  int64_t rows = 0;
  int64_t k = 0;
  // i64 [n*k], grouped by expert (experts in index order, rows ascending within an expert):
  Tensor source_rows;   // the input row of each dispatched pair
  Tensor choice_slots;  // its flat position row * k + j in the [n, k] routing tensors
  std::vector<int64_t> expert_counts;  // pairs per expert; sums to n*k
};

// expert_indices: i64 [n, k] with values in [0, num_experts) (throws otherwise).
DispatchPlan plan_dispatch(const Tensor& expert_indices, int64_t num_experts);

// x [n, d] -> one [count_e, d] batch per expert (differentiable).
std::vector<Tensor> dispatch(const Tensor& x, const DispatchPlan& plan);

// expert_outputs[e] is expert e's output for its batch ([count_e, d_out]; may be undefined when
// count_e == 0); weights [n, k]. Returns [n, d_out] with
// out[r] = sum over j of weights[r, j] * (output of expert expert_indices[r, j] for row r).
// Differentiable in the outputs and the weights.
Tensor combine(std::span<const Tensor> expert_outputs, const Tensor& weights,
               const DispatchPlan& plan);

}  // namespace hive::nn
