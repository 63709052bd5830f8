// A local Mixture-of-Experts layer over a grid of experts.
//
// Experts sit on a grid (e.g. 8 x 8 = 64 experts); expert e has coordinates given by e in
// row-major order. One linear layer scores every coordinate of every grid dimension; an expert's
// score is the sum of its coordinates' scores. Each row goes to its k best experts and the
// answers are averaged with softmax weights over those k scores. The distributed layer in moe/
// replaces the local experts with remote ones and must match this layer's outputs.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/nn/layers.h"

namespace hive::nn {

class FeedForwardExpert;

struct MoeConfig {
  int64_t in_features = 0;
  std::vector<int64_t> grid;  // experts per dimension, e.g. {8, 8}
  int64_t k = 2;              // experts per row
};

struct Routing {
  Tensor expert_indices;  // i64 [n, k], best first
  Tensor weights;         // [n, k], softmax over the chosen experts' scores; differentiable
};

// Builds expert number `index` (row-major over the grid).
using ExpertFactory = std::function<std::shared_ptr<UnaryModule>(int64_t index, Generator&)>;

// Every expert's score from the per-coordinate scores: dimension_scores [n, sum(grid)] holds
// grid[0] scores for dimension 0, then grid[1] for dimension 1, ...; returns [n, prod(grid)] with
// result[r, e] = sum over d of the score of e's coordinate in dimension d.
Tensor grid_scores(const Tensor& dimension_scores, std::span<const int64_t> grid);

class MixtureOfExperts : public UnaryModule {
 public:
  // Parameters: gate.{weight,bias} [sum(grid), in], [sum(grid)]; experts.<e>.* for each expert.
  MixtureOfExperts(MoeConfig config, const ExpertFactory& make_expert, Generator& generator);

  Routing route(const Tensor& x);            // x [n, in_features]
  Tensor forward(const Tensor& x) override;  // [n, in_features] -> [n, expert output size]

  int64_t num_experts() const { return static_cast<int64_t>(experts_->size()); }
  UnaryModule& expert(int64_t index) { return (*experts_)[static_cast<size_t>(index)]; }
  const MoeConfig& config() const { return config_; }

 private:
  MoeConfig config_;
  std::shared_ptr<Linear> gate_;
  std::shared_ptr<ModuleList> experts_;
  // Every expert, when all are FeedForwardExperts: forward then runs them grouped
  // (forward_grouped) instead of one chain of ops per expert.
  std::vector<const FeedForwardExpert*> feed_forward_experts_;
};

}  // namespace hive::nn
