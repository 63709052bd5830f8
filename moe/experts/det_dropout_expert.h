// The "det_dropout" expert (hivemind's DeterministicDropoutNetwork): dropout whose mask is an
// input, so that backward, which recomputes forward, drops exactly what forward dropped; then
// Linear(h, 2h) -> ReLU -> Linear(2h, h). The caller draws the mask and sends the same one with
// forward and backward.
#pragma once

#include <memory>

#include "engine/nn/layers.h"
#include "moe/experts/expert_module.h"

namespace hive::moe {

// x f32 [*, h], mask f32 [*, h] (1 keeps an element, 0 drops it) -> f32 [*, h].
// out = linear_out(relu(linear_in(x * mask / (1 - drop_probability)))). The mask gets no
// gradient. Parameters: linear_in.*, linear_out.*.
class DetDropoutExpert : public ExpertModule {
 public:
  DetDropoutExpert(int64_t hidden, float drop_probability, Generator& generator);
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override;

 private:
  float keep_probability_;
  std::shared_ptr<nn::Linear> linear_in_;
  std::shared_ptr<nn::Linear> linear_out_;
};

}  // namespace hive::moe
