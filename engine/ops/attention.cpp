#include "engine/ops/attention.h"

#include <cmath>

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

void check_arguments(const Tensor& queries, const Tensor& keys, const Tensor& values,
                     const Tensor& key_bias, float scale) {
  checks::floating(kOp, queries, "queries");
  checks::floating(kOp, keys, "keys");
  checks::floating(kOp, values, "values");
  checks::rank(kOp, queries, 4, "queries [b, s_q, heads, d]");
  checks::rank(kOp, keys, 4, "keys [b, s_k, heads, d]");
  checks::rank(kOp, values, 4, "values [b, s_k, heads, d]");
  checks::same_dtype(kOp, queries, keys);
  checks::same_dtype(kOp, queries, values);
  checks::same_device(kOp, queries, keys);
  checks::same_device(kOp, queries, values);
  HIVE_REQUIRE(keys.shape() == values.shape(), kOp, ": keys have shape ", keys.shape(),
               " but values have shape ", values.shape(), "; both must be [b, s_k, heads, d]");
  const int64_t batch = queries.size(0);
  const int64_t heads = queries.size(2);
  const int64_t head_size = queries.size(3);
  HIVE_REQUIRE(heads > 0 && head_size > 0, kOp, ": queries have shape ", queries.shape(),
               ", expected [b, s_q, heads, d] with heads > 0 and d > 0");
  HIVE_REQUIRE(keys.size(0) == batch && keys.size(2) == heads && keys.size(3) == head_size, kOp,
               ": keys have shape ", keys.shape(), ", which does not match queries of shape ",
               queries.shape(), " in batch (", batch, "), heads (", heads, ") or head size (",
               head_size, ")");
  HIVE_REQUIRE(std::isfinite(scale), kOp, ": scale must be finite, got ", scale);
  if (!key_bias.defined()) return;
  checks::same_dtype(kOp, queries, key_bias);
  checks::same_device(kOp, queries, key_bias);
  HIVE_REQUIRE(key_bias.rank() == 2 && key_bias.size(0) == batch &&
                   key_bias.size(1) == keys.size(1),
               kOp, ": key_bias has shape ", key_bias.shape(), ", expected [", batch, ", ",
               keys.size(1), "] ([b, s_k]) for keys of shape ", keys.shape());
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& queries, const Tensor& keys,
                                    const Tensor& values, const Tensor& key_bias, float scale) {
  check_arguments(queries, keys, values, key_bias, scale);
  AttentionArgs args;
  args.q = queries;
  args.k = keys;
  args.v = values;
  args.key_bias = key_bias;
  args.scale = scale;
  args.out = Tensor::empty(queries.shape(), queries.dtype(), queries.device());
  args.logsumexp = Tensor::empty(Shape{queries.size(0), queries.size(2), queries.size(1)},
                                 DType::kF32, queries.device());
  backend_for(queries.device()).attention(args);
  // key_bias is not an input of the node: it is a mask and gets no gradient.
  if (should_record({&queries, &keys, &values})) {
    AttentionBackwardArgs saved;
    saved.q = queries.detach();
    saved.k = keys.detach();
    saved.v = values.detach();
    saved.key_bias = key_bias.defined() ? key_bias.detach() : Tensor();
    saved.scale = scale;
    saved.out = args.out.detach();
    saved.logsumexp = args.logsumexp;
    record_op(kOp, {&queries, &keys, &values}, {&args.out},
              [saved](const GradContext& context) -> std::vector<Tensor> {
                AttentionBackwardArgs backward = saved;
                backward.grad_out = context.grad();
                // The kernels write all three gradients at once (they share P and dS).
                backward.grad_q = Tensor::empty(saved.q.shape(), saved.q.dtype(), saved.q.device());
                backward.grad_k = Tensor::empty(saved.k.shape(), saved.k.dtype(), saved.k.device());
                backward.grad_v = Tensor::empty(saved.v.shape(), saved.v.dtype(), saved.v.device());
                backend_for(saved.q.device()).attention_backward(backward);
                return {context.needs_grad(0) ? backward.grad_q : Tensor(),
                        context.needs_grad(1) ? backward.grad_k : Tensor(),
                        context.needs_grad(2) ? backward.grad_v : Tensor()};
              });
  }
  return args.out;
}

}  // namespace hive
