// The model that `hive train-local` trains: an MLP whose middle layer is a local Mixture of
// Experts over a grid of ffn experts.
//
//   x [n, 784] -> Linear(784, h) -> GELU -> Dropout -> MoE(grid, k, ffn experts of width h)
//              -> Linear(h, 10) -> logits
#pragma once

#include <memory>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/nn/mixture_of_experts.h"

namespace hive::tools {

struct ClassifierConfig {
  int64_t hidden = 128;
  std::vector<int64_t> grid = {4, 4};
  int64_t k = 2;
  float dropout = 0.1f;
  uint64_t seed = 1;
};

class FashionMnistClassifier : public nn::UnaryModule {
 public:
  static constexpr int64_t kInputs = 28 * 28;
  static constexpr int64_t kClasses = 10;

  explicit FashionMnistClassifier(const ClassifierConfig& config);
  Tensor forward(const Tensor& images) override;  // [n, 784] -> logits [n, 10]

 private:
  std::shared_ptr<nn::Linear> input_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::MixtureOfExperts> experts_;
  std::shared_ptr<nn::Linear> output_;
};

}  // namespace hive::tools
