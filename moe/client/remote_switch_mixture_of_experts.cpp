#include "moe/client/remote_switch_mixture_of_experts.h"

#include <vector>

#include "engine/ops.h"

namespace hive::moe {

RemoteSwitchMixtureOfExperts::RemoteSwitchMixtureOfExperts(RemoteMoeConfig config,
                                                           BeamSearch& beam_search,
                                                           RemoteExpertPool& pool,
                                                           Generator& generator)
    : RemoteMixtureOfExperts(config, beam_search, pool, generator) {}

SwitchOutput RemoteSwitchMixtureOfExperts::forward_with_loss(const Tensor& x) {
  const Routed routed = route_and_call(x);
  const std::vector<int64_t>& grid = beam_search().grid();
  const int64_t rows = x.size(0);

  const std::vector<Tensor> per_dimension = split(routed.scores, 1, grid);
  std::vector<Tensor> log_probabilities;
  const Device device = x.device();
  Tensor balancing_loss = Tensor::zeros(Shape{}, DType::kF32, device);
  for (size_t d = 0; d < grid.size(); ++d) {
    log_probabilities.push_back(log_softmax(per_dimension[d], -1));
    // f: where each row's first answer sits in dimension d (a constant, as in Switch).
    std::vector<float> fractions(static_cast<size_t>(grid[d]), 0.0f);
    for (const std::vector<RowAnswer>& answers : routed.calls.rows) {
      if (answers.empty()) continue;
      const int64_t index =
          routed.calls.answered[answers.front().call].expert->uid().indices()[d];
      fractions[static_cast<size_t>(index)] += 1.0f / static_cast<float>(rows);
    }
    const Tensor mean_probability = mean(softmax(per_dimension[d], -1), 0);
    const Tensor usage = sum(mul(mean_probability, Tensor::from_vector(fractions, Shape{grid[d]}).to(device)));
    balancing_loss = add(balancing_loss, scale(usage, static_cast<float>(grid[d])));
  }
  if (routed.slots == 0) {
    return {zero_output(routed), balancing_loss};
  }
  const Tensor probabilities =
      exp(answer_scores(routed, concat(log_probabilities, 1)));
  return {mix(routed, mul(probabilities, routed.answered)), balancing_loss};
}

}  // namespace hive::moe
