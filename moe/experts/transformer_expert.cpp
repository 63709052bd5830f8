#include "moe/experts/transformer_expert.h"

#include "engine/ops.h"

namespace hive::moe {
namespace {

// Added to the attention score of a padding key: its softmax weight underflows to exactly 0,
// and unlike -inf a sequence of only padding still gives finite weights instead of NaN.
constexpr float kPaddingKeyScore = -1e9f;

ExpertSchema transformer_schema(int64_t hidden, int64_t sequence_length) {
  HIVE_REQUIRE(sequence_length > 0, "transformer: sequence length ", sequence_length,
               " must be positive");
  return {.inputs = {{DType::kF32, Shape{sequence_length, hidden}},
                     {DType::kU8, Shape{sequence_length}}},
          .outputs = {{DType::kF32, Shape{sequence_length, hidden}}}};
}

}  // namespace

TransformerExpert::TransformerExpert(int64_t hidden, int64_t heads, int64_t sequence_length,
                                     Generator& generator)
    : ExpertModule(transformer_schema(hidden, sequence_length)),
      self_attn_(
          register_module("self_attn", std::make_shared<SelfAttention>(hidden, heads, generator))),
      linear1_(
          register_module("linear1", std::make_shared<nn::Linear>(hidden, 4 * hidden, generator))),
      linear2_(
          register_module("linear2", std::make_shared<nn::Linear>(4 * hidden, hidden, generator))),
      norm1_(register_module("norm1", std::make_shared<nn::LayerNorm>(hidden))),
      norm2_(register_module("norm2", std::make_shared<nn::LayerNorm>(hidden))) {}

std::vector<Tensor> TransformerExpert::forward(std::span<const Tensor> inputs) {
  const Tensor& x = inputs[0];        // [b, s, h]
  const Tensor& padding = inputs[1];  // [b, s]
  const int64_t batch = x.size(0);
  const int64_t sequence = x.size(1);
  const Tensor key_bias =
      scale(padding.to(DType::kF32), kPaddingKeyScore).reshape(Shape{batch, 1, sequence});
  const Tensor attended = norm1_->forward(add(x, self_attn_->forward(x, key_bias)));
  const Tensor fed = linear2_->forward(gelu(linear1_->forward(attended)));
  return {norm2_->forward(add(attended, fed))};
}

}  // namespace hive::moe
