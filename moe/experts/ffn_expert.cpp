#include "moe/experts/ffn_expert.h"

namespace hive::moe {

FfnExpert::FfnExpert(int64_t hidden, Generator& generator)
    : ExpertModule(
          {.inputs = {{DType::kF32, Shape{hidden}}}, .outputs = {{DType::kF32, Shape{hidden}}}}),
      block_(register_module("ffn", std::make_shared<nn::FeedForwardExpert>(hidden, generator))) {}

std::vector<Tensor> FfnExpert::forward(std::span<const Tensor> inputs) {
  return {block_->forward(inputs[0])};
}

}  // namespace hive::moe
