#include "engine/nn/ffn_expert.h"

#include "engine/ops.h"

namespace hive::nn {

FeedForwardExpert::FeedForwardExpert(int64_t hidden, Generator& generator)
    : up_(register_module("up", std::make_shared<Linear>(hidden, 4 * hidden, generator))),
      down_(register_module("down", std::make_shared<Linear>(4 * hidden, hidden, generator))),
      norm_(register_module("norm", std::make_shared<LayerNorm>(hidden))) {}

Tensor FeedForwardExpert::forward(const Tensor& x) {
  return norm_->forward(add(x, down_->forward(gelu(up_->forward(x)))));
}

}  // namespace hive::nn
