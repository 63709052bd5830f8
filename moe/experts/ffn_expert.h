// The "ffn" expert: engine's feed-forward block (engine/nn/ffn_expert.h), the same block the
// local MoE layer uses, so a swarm of ffn experts computes what the local layer computes.
// hivemind's FeedforwardBlock is the same block with LayerNorm eps 1e-12 instead of 1e-5.
#pragma once

#include <memory>

#include "engine/nn/ffn_expert.h"
#include "moe/experts/expert_module.h"

namespace hive::moe {

// x f32 [*, h] -> f32 [*, h]. Parameters: ffn.up.*, ffn.down.*, ffn.norm.*.
class FfnExpert : public ExpertModule {
 public:
  FfnExpert(int64_t hidden, Generator& generator);
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override;
  const nn::FeedForwardExpert* grouped_block() const override { return block_.get(); }

 private:
  std::shared_ptr<nn::FeedForwardExpert> block_;
};

}  // namespace hive::moe
