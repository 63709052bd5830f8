#include "moe/experts/det_dropout_expert.h"

#include "engine/ops.h"

namespace hive::moe {

DetDropoutExpert::DetDropoutExpert(int64_t hidden, float drop_probability, Generator& generator)
    : ExpertModule({.inputs = {{DType::kF32, Shape{hidden}}, {DType::kF32, Shape{hidden}}},
                    .outputs = {{DType::kF32, Shape{hidden}}}}),
      keep_probability_(1.0f - drop_probability),
      linear_in_(register_module("linear_in",
                                 std::make_shared<nn::Linear>(hidden, 2 * hidden, generator))),
      linear_out_(register_module("linear_out",
                                  std::make_shared<nn::Linear>(2 * hidden, hidden, generator))) {
  HIVE_REQUIRE(drop_probability >= 0.0f && drop_probability < 1.0f,
               "det_dropout: drop probability ", drop_probability, " is outside [0, 1)");
}

std::vector<Tensor> DetDropoutExpert::forward(std::span<const Tensor> inputs) {
  const Tensor& x = inputs[0];
  const Tensor mask = inputs[1].detach();  // a choice the caller made, not something to learn
  const Tensor dropped = scale(mul(x, mask), 1.0f / keep_probability_);
  return {linear_out_->forward(relu(linear_in_->forward(dropped)))};
}

}  // namespace hive::moe
