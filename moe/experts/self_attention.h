// Multi-head self-attention (PyTorch's nn.MultiheadAttention with query = key = value), written
// with engine ops: one projection to queries, keys and values, scaled dot-product attention over
// every head at once (engine/ops/attention.h), and an output projection.
#pragma once

#include <memory>

#include "engine/nn/layers.h"

namespace hive::moe {

class SelfAttention : public nn::Module {
 public:
  // hidden must be a multiple of heads. Parameters: in_proj.{weight,bias} [3h, h], [3h] (queries,
  // keys, values stacked in that order), out_proj.{weight,bias} [h, h], [h].
  SelfAttention(int64_t hidden, int64_t heads, Generator& generator);

  // x [b, s, h] -> [b, s, h]. key_bias [b, 1, s] is added to every query's scores before the
  // softmax: 0 where a key may be attended to, a large negative number where it may not
  // (padding). Undefined: every key is attended to.
  Tensor forward(const Tensor& x, const Tensor& key_bias);

 private:
  int64_t hidden_;
  int64_t heads_;
  std::shared_ptr<nn::Linear> in_proj_;
  std::shared_ptr<nn::Linear> out_proj_;
};

}  // namespace hive::moe
