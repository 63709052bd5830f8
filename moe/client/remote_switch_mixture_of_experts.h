// RemoteSwitchMixtureOfExperts: the Switch Transformer's routing over remote experts (hivemind's
// RemoteSwitchMixtureOfExperts). Each row goes to its best expert (k_best = 1 by default) and
// the answer is scaled by the expert's gate probability, the product over grid dimensions of
// the softmax of that dimension's scores, so the gate learns through the output as in Switch.
// A load-balancing loss pushes the gate towards using every index of every dimension equally:
//
//   balancing_loss = sum over dimensions d of grid[d] * sum over indices i of f[d][i] * P[d][i]
//
// where f[d][i] is the fraction of the batch's rows whose first answering expert has index i in
// dimension d, and P[d][i] the mean over rows of dimension d's softmax at i (differentiable).
// With a uniform gate and uniform routing the loss is the number of dimensions.
#pragma once

#include "moe/client/remote_mixture_of_experts.h"

namespace hive::moe {

struct SwitchOutput {
  Tensor output;          // [n, out_features]
  Tensor balancing_loss;  // scalar; add a multiple of it to the training loss
};

class RemoteSwitchMixtureOfExperts : public RemoteMixtureOfExperts {
 public:
  // As RemoteMixtureOfExperts; a config with the default k_best of 2 is used as given, pass
  // k_best = 1 (and k_min, backward_k_min <= 1) for Switch's top-1 routing.
  RemoteSwitchMixtureOfExperts(RemoteMoeConfig config, BeamSearch& beam_search,
                               RemoteExpertPool& pool, Generator& generator);

  SwitchOutput forward_with_loss(const Tensor& x);
  Tensor forward(const Tensor& x) override { return forward_with_loss(x).output; }
};

}  // namespace hive::moe
