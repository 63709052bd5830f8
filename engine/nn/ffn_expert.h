// The "ffn" expert block: Linear(h, 4h) -> GELU -> Linear(4h, h) -> LayerNorm(x + out).
#pragma once

#include <memory>

#include "engine/nn/layers.h"

namespace hive::nn {

class FeedForwardExpert : public UnaryModule {
 public:
  // Parameters: up.{weight,bias} [4h, h], [4h]; down.{weight,bias} [h, 4h], [h];
  // norm.{weight,bias} [h].
  FeedForwardExpert(int64_t hidden, Generator& generator);
  Tensor forward(const Tensor& x) override;  // x [..., hidden] -> [..., hidden]

 private:
  std::shared_ptr<Linear> up_;
  std::shared_ptr<Linear> down_;
  std::shared_ptr<LayerNorm> norm_;
};

}  // namespace hive::nn
