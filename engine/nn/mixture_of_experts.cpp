#include "engine/nn/mixture_of_experts.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "engine/core/backend.h"
#include "engine/nn/ffn_expert.h"
#include "engine/nn/moe_dispatch.h"
#include "engine/ops.h"

namespace hive::nn {
namespace {

int64_t product(std::span<const int64_t> dims) {
  return std::accumulate(dims.begin(), dims.end(), int64_t{1}, std::multiplies<>());
}

int64_t total(std::span<const int64_t> dims) {
  return std::accumulate(dims.begin(), dims.end(), int64_t{0});
}

}  // namespace

Tensor grid_scores(const Tensor& dimension_scores, std::span<const int64_t> grid) {
  HIVE_REQUIRE(!grid.empty(), "grid_scores: the grid has no dimensions");
  HIVE_REQUIRE(dimension_scores.defined() && dimension_scores.rank() == 2 &&
                   dimension_scores.size(1) == total(grid),
               "grid_scores: scores have shape ",
               dimension_scores.defined() ? str_cat(dimension_scores.shape()) : std::string("undefined"),
               ", expected [n, ", total(grid), "] for the grid");
  const int64_t rows = dimension_scores.size(0);
  const std::vector<Tensor> parts = split(dimension_scores, 1, grid);
  // Outer sum, one dimension at a time: [n, P] + [n, g] -> [n, P * g] (row-major coordinates).
  Tensor scores = parts[0];
  for (size_t d = 1; d < parts.size(); ++d) {
    const int64_t covered = scores.size(1);
    scores = add(scores.reshape(Shape{rows, covered, 1}), parts[d].reshape(Shape{rows, 1, grid[d]}))
                 .reshape(Shape{rows, covered * grid[d]});
  }
  return scores;
}

MixtureOfExperts::MixtureOfExperts(MoeConfig config, const ExpertFactory& make_expert,
                                   Generator& generator)
    : config_(std::move(config)) {
  HIVE_REQUIRE(config_.in_features > 0, "MixtureOfExperts: in_features must be positive, got ",
               config_.in_features);
  HIVE_REQUIRE(!config_.grid.empty(), "MixtureOfExperts: the grid has no dimensions");
  for (int64_t size : config_.grid) {
    HIVE_REQUIRE(size > 0, "MixtureOfExperts: grid dimension of size ", size);
  }
  const int64_t experts = product(config_.grid);
  const int64_t max_k = std::min(experts, kMaxGatingK);
  HIVE_REQUIRE(config_.k >= 1 && config_.k <= max_k, "MixtureOfExperts: k = ", config_.k,
               " is outside [1, ", max_k, "] (", experts, " experts; the gating chooses at most ",
               kMaxGatingK, " per row)");
  gate_ = register_module("gate", std::make_shared<Linear>(config_.in_features, total(config_.grid),
                                                            generator));
  experts_ = register_module("experts", std::make_shared<ModuleList>());
  for (int64_t e = 0; e < experts; ++e) {
    auto expert = make_expert(e, generator);
    HIVE_REQUIRE(expert != nullptr, "MixtureOfExperts: the expert factory returned null for expert ", e);
    if (const auto* feed_forward = dynamic_cast<const FeedForwardExpert*>(expert.get())) {
      feed_forward_experts_.push_back(feed_forward);
    }
    experts_->add(std::move(expert));
  }
}

Routing MixtureOfExperts::route(const Tensor& x) {
  HIVE_REQUIRE(x.defined() && x.rank() == 2 && x.size(1) == config_.in_features,
               "MixtureOfExperts: input has shape ", x.defined() ? str_cat(x.shape()) : std::string("undefined"),
               ", expected [n, ", config_.in_features, "]");
  // Fused: the same choice and weights as topk(grid_scores(...)) + softmax, without building
  // every expert's score.
  const GridTopK gating = grid_topk(gate_->forward(x), config_.grid, config_.k);
  return {gating.indices, gating.weights};
}

Tensor MixtureOfExperts::forward(const Tensor& x) {
  const Routing routing = route(x);
  const MoePlan plan = moe_plan(routing.expert_indices, num_experts());
  const Tensor grouped = moe_dispatch(x, plan);
  // Only experts with rows run: the others' parameters get no gradient, in both paths.
  std::vector<int64_t> busy;
  for (int64_t e = 0; e < num_experts(); ++e) {
    if (plan.expert_counts[static_cast<size_t>(e)] > 0) busy.push_back(e);
  }
  // No rows at all: expert 0 runs on the empty batch, which gives the output its width.
  if (busy.empty()) busy.push_back(0);
  if (feed_forward_experts_.size() == static_cast<size_t>(num_experts())) {
    std::vector<const FeedForwardExpert*> experts;
    std::vector<int64_t> group_rows;
    for (int64_t e : busy) {
      experts.push_back(feed_forward_experts_[static_cast<size_t>(e)]);
      group_rows.push_back(plan.expert_counts[static_cast<size_t>(e)]);
    }
    return moe_combine(forward_grouped(experts, grouped, group_rows), routing.weights, plan);
  }
  const std::vector<Tensor> batches = split(grouped, 0, plan.expert_counts);
  std::vector<Tensor> outputs(batches.size());
  for (int64_t e : busy) {
    const auto index = static_cast<size_t>(e);
    outputs[index] = (*experts_)[index].forward(batches[index]);
  }
  return combine(outputs, routing.weights, plan);
}

}  // namespace hive::nn
