// The "transformer" expert (hivemind's TunedTransformer): one post-norm transformer encoder
// layer over a batch of sequences,
//   x = norm1(x + self_attention(x)),  out = norm2(x + linear2(gelu(linear1(x)))),
// with 4h feed-forward units and the tanh GELU, as hivemind. Unlike hivemind it has no dropout:
// backward recomputes forward, and a freshly drawn mask there would not match forward's (an
// expert that wants dropout takes its mask as an input, like det_dropout).
#pragma once

#include <memory>

#include "engine/nn/layers.h"
#include "moe/experts/expert_module.h"
#include "moe/experts/self_attention.h"

namespace hive::moe {

// x f32 [*, s, h], padding u8 [*, s] (nonzero: that token is padding and no query attends to
// it) -> f32 [*, s, h]. Parameters: self_attn.*, linear1.*, linear2.*, norm1.*, norm2.*.
class TransformerExpert : public ExpertModule {
 public:
  TransformerExpert(int64_t hidden, int64_t heads, int64_t sequence_length, Generator& generator);
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override;

 private:
  std::shared_ptr<SelfAttention> self_attn_;
  std::shared_ptr<nn::Linear> linear1_;
  std::shared_ptr<nn::Linear> linear2_;
  std::shared_ptr<nn::LayerNorm> norm1_;
  std::shared_ptr<nn::LayerNorm> norm2_;
};

}  // namespace hive::moe
