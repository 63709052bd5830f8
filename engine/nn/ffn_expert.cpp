#include "engine/nn/ffn_expert.h"

#include <vector>

#include "engine/ops.h"

namespace hive::nn {

FeedForwardExpert::FeedForwardExpert(int64_t hidden, Generator& generator)
    : up_(register_module("up", std::make_shared<Linear>(hidden, 4 * hidden, generator))),
      down_(register_module("down", std::make_shared<Linear>(4 * hidden, hidden, generator))),
      norm_(register_module("norm", std::make_shared<LayerNorm>(hidden))) {}

Tensor FeedForwardExpert::forward(const Tensor& x) {
  const std::vector<Tensor> parameters = in_compute_dtype(
      std::vector<Tensor>{up_->weight(), up_->bias(), down_->weight(), down_->bias()}, x);
  return norm_->forward(
      add(x, feed_forward(x, parameters[0], parameters[1], parameters[2], parameters[3])));
}

Tensor forward_grouped(std::span<const FeedForwardExpert* const> experts, const Tensor& x,
                       std::span<const int64_t> group_rows) {
  HIVE_REQUIRE(!experts.empty() && experts.size() == group_rows.size(), "forward_grouped: ",
               experts.size(), " experts for ", group_rows.size(), " row groups");
  const float eps = experts[0]->norm().eps();
  // Every expert's six parameters, cast to the compute dtype together.
  constexpr size_t kParameters = 6;
  std::vector<Tensor> parameters;
  std::vector<int64_t> row_groups;
  for (size_t g = 0; g < experts.size(); ++g) {
    const FeedForwardExpert& expert = *experts[g];
    HIVE_REQUIRE(expert.norm().eps() == eps, "forward_grouped: expert ", g,
                 " normalizes with eps ", expert.norm().eps(), ", expert 0 with ", eps);
    const int64_t hidden = expert.norm().weight().numel();
    parameters.insert(parameters.end(),
                      {expert.up().weight(), expert.up().bias(), expert.down().weight(),
                       expert.down().bias(), expert.norm().weight().reshape(Shape{1, hidden}),
                       expert.norm().bias().reshape(Shape{1, hidden})});
    row_groups.insert(row_groups.end(), static_cast<size_t>(group_rows[g]),
                      static_cast<int64_t>(g));
  }
  parameters = in_compute_dtype(parameters, x);
  std::vector<Tensor> up_weights, up_biases, down_weights, down_biases, norm_weights, norm_biases;
  for (size_t at = 0; at < parameters.size(); at += kParameters) {
    up_weights.push_back(parameters[at]);
    up_biases.push_back(parameters[at + 1]);
    down_weights.push_back(parameters[at + 2]);
    down_biases.push_back(parameters[at + 3]);
    norm_weights.push_back(parameters[at + 4]);
    norm_biases.push_back(parameters[at + 5]);
  }
  const Tensor hidden = gelu(grouped_linear(x, group_rows, up_weights, up_biases));
  const Tensor residual = add(x, grouped_linear(hidden, group_rows, down_weights, down_biases));
  // One normalization for every row; each group's scale and shift are then picked per row.
  const Tensor groups = Tensor::from_vector(row_groups, Shape{x.size(0)}).to(x.device());
  const Tensor scale = index_select(concat(norm_weights, 0), 0, groups);
  const Tensor shift = index_select(concat(norm_biases, 0), 0, groups);
  return add(mul(layer_norm(residual, Tensor(), Tensor(), eps), scale), shift);
}

}  // namespace hive::nn
