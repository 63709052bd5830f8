#include "tools/hive/fashion_mnist_classifier.h"

#include "engine/nn/ffn_expert.h"
#include "engine/ops.h"

namespace hive::tools {

FashionMnistClassifier::FashionMnistClassifier(const ClassifierConfig& config) {
  Generator generator(config.seed);
  input_ = register_module("input", std::make_shared<nn::Linear>(kInputs, config.hidden, generator));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(config.dropout, config.seed + 1));
  experts_ = register_module(
      "moe", std::make_shared<nn::MixtureOfExperts>(
                 nn::MoeConfig{config.hidden, config.grid, config.k},
                 [hidden = config.hidden](int64_t, Generator& expert_generator) {
                   return std::make_shared<nn::FeedForwardExpert>(hidden, expert_generator);
                 },
                 generator));
  output_ = register_module("output", std::make_shared<nn::Linear>(config.hidden, kClasses, generator));
}

Tensor FashionMnistClassifier::forward(const Tensor& images) {
  return output_->forward(experts_->forward(dropout_->forward(gelu(input_->forward(images)))));
}

}  // namespace hive::tools
