// Routing rows to experts one batch per expert, and back: the dispatch/combine pair of a
// Mixture-of-Experts layer whose experts are separate modules (the local layer's fallback for
// any expert, the tests). Built on the grouped ops of engine/ops/moe_routing.h: dispatch splits
// the grouped rows into one batch per expert, combine concatenates the experts' outputs back into
// grouped order before the weighted sum.
#pragma once

#include <span>
#include <vector>

#include "engine/ops/moe_routing.h"

namespace hive::nn {

// x [n, d] -> one [count_e, d] batch per expert (differentiable).
std::vector<Tensor> dispatch(const Tensor& x, const MoePlan& plan);

// expert_outputs[e] is expert e's output for its batch ([count_e, d_out]; may be undefined when
// count_e == 0); weights [n, k]. Returns [n, d_out] with
// out[r] = sum over j of weights[r, j] * (output of expert expert_indices[r, j] for row r).
// Differentiable in the outputs and the weights.
Tensor combine(std::span<const Tensor> expert_outputs, const Tensor& weights, const MoePlan& plan);

}  // namespace hive::nn
