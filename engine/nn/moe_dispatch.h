// Back from experts that are separate modules: the combine of a Mixture-of-Experts layer whose
// experts each ran on their own batch (the local layer's path for any expert type but ffn). Such
// a layer splits moe_dispatch's grouped rows into one batch per expert (split by
// plan.expert_counts); combine concatenates the experts' outputs back into grouped order before
// moe_combine's weighted sum.
#pragma once

#include <span>
#include <vector>

#include "engine/ops/moe_routing.h"

namespace hive::nn {

// expert_outputs[e] is expert e's output for its batch ([count_e, d_out]; may be undefined when
// count_e == 0); weights [n, k]. Returns [n, d_out] with
// out[r] = sum over j of weights[r, j] * (output of expert expert_indices[r, j] for row r).
// Differentiable in the outputs and the weights.
Tensor combine(std::span<const Tensor> expert_outputs, const Tensor& weights, const MoePlan& plan);

}  // namespace hive::nn
