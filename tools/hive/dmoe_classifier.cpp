#include "tools/hive/dmoe_classifier.h"

#include <string>

#include "engine/ops.h"

namespace hive::tools {

DmoeClassifier::DmoeClassifier(const DmoeClassifierConfig& config, moe::BeamSearch& beam_search,
                               moe::RemoteExpertPool& pool) {
  Generator generator(config.seed);
  input_ = register_module("input", std::make_shared<nn::Linear>(kInputs, config.hidden, generator));
  dropout_ =
      register_module("dropout", std::make_shared<nn::Dropout>(config.dropout, config.seed + 1));
  moe::RemoteMoeConfig layer = config.layer;
  layer.in_features = config.hidden;
  layer.out_features = config.hidden;
  for (int64_t index = 0; index < config.moe_layers; ++index) {
    layers_.push_back(register_module(
        "moe" + std::to_string(index),
        std::make_shared<moe::RemoteMixtureOfExperts>(layer, beam_search, pool, generator)));
  }
  output_ = register_module("output", std::make_shared<nn::Linear>(config.hidden, kClasses, generator));
}

Tensor DmoeClassifier::forward(const Tensor& images) {
  Tensor hidden = dropout_->forward(gelu(input_->forward(images)));
  for (const auto& layer : layers_) hidden = layer->forward(hidden);
  return output_->forward(hidden);
}

moe::RemoteMoeStats DmoeClassifier::stats() const {
  moe::RemoteMoeStats total;
  for (const auto& layer : layers_) total += layer->stats();
  return total;
}

}  // namespace hive::tools
