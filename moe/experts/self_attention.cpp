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
  const int64_t head_size = hidden_ / heads_;
  const std::vector<int64_t> head_sizes(static_cast<size_t>(heads_), head_size);
  // Each [b, s, h], cut into heads of [b, s, h / heads].
  const std::vector<Tensor> qkv = split(in_proj_->forward(x), 2, {hidden_, hidden_, hidden_});
  const std::vector<Tensor> queries = split(qkv[0], 2, head_sizes);
  const std::vector<Tensor> keys = split(qkv[1], 2, head_sizes);
  const std::vector<Tensor> values = split(qkv[2], 2, head_sizes);
  const auto score_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_size)));

  std::vector<Tensor> heads;
  heads.reserve(static_cast<size_t>(heads_));
  for (size_t head = 0; head < queries.size(); ++head) {
    // scores [b, s, s]: query position by key position.
    Tensor scores = matmul(scale(queries[head], score_scale), transpose(keys[head]));
    if (key_bias.defined()) scores = add(scores, key_bias);
    heads.push_back(matmul(softmax(scores, -1), values[head]));
  }
  return out_proj_->forward(concat(heads, 2));
}

}  // namespace hive::moe
