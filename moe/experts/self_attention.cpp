#include "moe/experts/self_attention.h"

#include <cmath>
#include <vector>

#include "engine/ops.h"

namespace hive::moe {

SelfAttention::SelfAttention(int64_t hidden, int64_t heads, Generator& generator)
    : hidden_(hidden), heads_(heads) {
  HIVE_REQUIRE(heads > 0 && hidden % heads == 0, "self-attention: hidden size ", hidden,
               " is not a multiple of ", heads, " heads");
  in_proj_ =
      register_module("in_proj", std::make_shared<nn::Linear>(hidden, 3 * hidden, generator));
  out_proj_ = register_module("out_proj", std::make_shared<nn::Linear>(hidden, hidden, generator));
}

Tensor SelfAttention::forward(const Tensor& x, const Tensor& key_bias) {
  const int64_t batch = x.size(0);
  const int64_t sequence = x.size(1);
  const int64_t head_size = hidden_ / heads_;
  // Queries, keys and values, each [b, s, h] viewed as [b, s, heads, h / heads]: the layout
  // the attention op reads every head from in place.
  const std::vector<Tensor> qkv = split(in_proj_->forward(x), 2, {hidden_, hidden_, hidden_});
  const Shape per_head{batch, sequence, heads_, head_size};
  const auto score_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_size)));
  const Tensor attended = scaled_dot_product_attention(
      qkv[0].reshape(per_head), qkv[1].reshape(per_head), qkv[2].reshape(per_head),
      key_bias.defined() ? key_bias.reshape(Shape{batch, sequence}) : Tensor(), score_scale);
  return out_proj_->forward(attended.reshape(Shape{batch, sequence, hidden_}));
}

}  // namespace hive::moe
