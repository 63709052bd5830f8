#include "engine/nn/ffn_expert.h"

#include <vector>

#include "engine/ops.h"

namespace hive::nn {

FeedForwardExpert::FeedForwardExpert(int64_t hidden, Generator& generator)
    : up_(register_module("up", std::make_shared<Linear>(hidden, 4 * hidden, generator))),
      down_(register_module("down", std::make_shared<Linear>(4 * hidden, hidden, generator))),
      norm_(register_module("norm", std::make_shared<LayerNorm>(hidden))) {}

Tensor FeedForwardExpert::forward(const Tensor& x) {
  return norm_->forward(add(x, down_->forward(up_->forward_gelu(x))));
}

Tensor forward_grouped(std::span<const FeedForwardExpert* const> experts, const Tensor& x,
                       std::span<const int64_t> group_rows) {
  HIVE_REQUIRE(!experts.empty() && experts.size() == group_rows.size(), "forward_grouped: ",
               experts.size(), " experts for ", group_rows.size(), " row groups");
  std::vector<Tensor> up_weights, up_biases, down_weights, down_biases, norm_weights, norm_biases;
  std::vector<int64_t> row_groups;
  const float eps = experts[0]->norm().eps();
  for (size_t g = 0; g < experts.size(); ++g) {
    const FeedForwardExpert& expert = *experts[g];
    HIVE_REQUIRE(expert.norm().eps() == eps, "forward_grouped: expert ", g,
                 " normalizes with eps ", expert.norm().eps(), ", expert 0 with ", eps);
    up_weights.push_back(in_compute_dtype(expert.up().weight(), x));
    up_biases.push_back(in_compute_dtype(expert.up().bias(), x));
    down_weights.push_back(in_compute_dtype(expert.down().weight(), x));
    down_biases.push_back(in_compute_dtype(expert.down().bias(), x));
    const int64_t hidden = expert.norm().weight().numel();
    norm_weights.push_back(in_compute_dtype(expert.norm().weight(), x).reshape(Shape{1, hidden}));
    norm_biases.push_back(in_compute_dtype(expert.norm().bias(), x).reshape(Shape{1, hidden}));
    row_groups.insert(row_groups.end(), static_cast<size_t>(group_rows[g]), static_cast<int64_t>(g));
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
