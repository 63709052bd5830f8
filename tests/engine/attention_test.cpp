// scaled_dot_product_attention: outputs against a nested-loop reference in double, gradients
// against finite differences, masked keys and fully masked rows, f16/bf16 against f32, and the
// argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/core/attention_shape.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

using Sizes = AttentionShape;

Shape query_shape(const Sizes& sizes) {
  return Shape{sizes.batch, sizes.query_length, sizes.heads, sizes.head_size};
}
Shape key_shape(const Sizes& sizes) {
  return Shape{sizes.batch, sizes.key_length, sizes.heads, sizes.head_size};
}

// softmax(scale q k^T + bias) v per (batch, head) in double, straight from the definition; a row
// whose keys are all -inf gives 0.
std::vector<float> attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& key_bias, double scale) {
  const int64_t batch = q.size(0);
  const int64_t s_q = q.size(1);
  const int64_t s_k = k.size(1);
  const int64_t heads = q.size(2);
  const int64_t d = q.size(3);
  const std::vector<float> qv = q.to(DType::kF32).to_vector<float>();
  const std::vector<float> kv = k.to(DType::kF32).to_vector<float>();
  const std::vector<float> vv = v.to(DType::kF32).to_vector<float>();
  const std::vector<float> bias =
      key_bias.defined() ? key_bias.to(DType::kF32).to_vector<float>() : std::vector<float>();
  const auto at = [&](int64_t i, int64_t position, int64_t length, int64_t h, int64_t j) {
    return static_cast<size_t>(((i * length + position) * heads + h) * d + j);
  };
  std::vector<float> out(qv.size(), 0.0f);
  for (int64_t i = 0; i < batch; ++i) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t r = 0; r < s_q; ++r) {
        std::vector<double> scores(static_cast<size_t>(s_k));
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < s_k; ++c) {
          double dot = 0.0;
          for (int64_t j = 0; j < d; ++j) {
            dot += static_cast<double>(qv[at(i, r, s_q, h, j)]) * kv[at(i, c, s_k, h, j)];
          }
          double score = scale * dot;
          if (!bias.empty()) score += bias[static_cast<size_t>(i * s_k + c)];
          scores[static_cast<size_t>(c)] = score;
          max_score = std::max(max_score, score);
        }
        if (std::isinf(max_score)) continue;  // every key masked: the output stays 0
        double total = 0.0;
        for (double& score : scores) {
          score = std::exp(score - max_score);
          total += score;
        }
        for (int64_t j = 0; j < d; ++j) {
          double value = 0.0;
          for (int64_t c = 0; c < s_k; ++c) {
            value += scores[static_cast<size_t>(c)] * vv[at(i, c, s_k, h, j)];
          }
          out[at(i, r, s_q, h, j)] = static_cast<float>(value / total);
        }
      }
    }
  }
  return out;
}

// ||actual - expected|| / ||expected|| over all elements, in double.
double relative_error(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = actual.to(DType::kF32).to_vector<float>();
  const std::vector<float> e = expected.to(DType::kF32).to_vector<float>();
  double difference = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference += (static_cast<double>(a[i]) - e[i]) * (static_cast<double>(a[i]) - e[i]);
    norm += static_cast<double>(e[i]) * e[i];
  }
  return std::sqrt(difference) / std::sqrt(norm);
}

float default_scale(const Sizes& sizes) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(sizes.head_size)));
}

TEST(ScaledDotProductAttention, MatchesNestedLoopReference) {
  uint64_t seed = 1;
  for (const Sizes& sizes : {Sizes{2, 5, 7, 3, 4}, Sizes{1, 1, 1, 1, 1}, Sizes{3, 4, 1, 2, 5},
                             Sizes{2, 1, 6, 3, 1}, Sizes{2, 9, 9, 4, 16}}) {
    SCOPED_TRACE(::testing::Message() << "b " << sizes.batch << " s_q " << sizes.query_length
                                      << " s_k " << sizes.key_length << " heads " << sizes.heads
                                      << " d " << sizes.head_size);
    const Tensor q = testing::random_tensor(query_shape(sizes), seed++);
    const Tensor k = testing::random_tensor(key_shape(sizes), seed++);
    const Tensor v = testing::random_tensor(key_shape(sizes), seed++);
    const Tensor bias = testing::random_tensor(Shape{sizes.batch, sizes.key_length}, seed++);
    const float scale = default_scale(sizes);
    const Tensor out = scaled_dot_product_attention(q, k, v, Tensor(), scale);
    EXPECT_EQ(out.shape(), query_shape(sizes));
    testing::expect_close(out, attention_reference(q, k, v, Tensor(), scale), 1e-5, 1e-5);
    testing::expect_close(scaled_dot_product_attention(q, k, v, bias, scale),
                          attention_reference(q, k, v, bias, scale), 1e-5, 1e-5);
  }
}

TEST(ScaledDotProductAttention, ManyHeadsAcrossThreadsMatchReference) {
  const Sizes sizes{4, 33, 40, 8, 16};
  const Tensor q = testing::random_tensor(query_shape(sizes), 11);
  const Tensor k = testing::random_tensor(key_shape(sizes), 12);
  const Tensor v = testing::random_tensor(key_shape(sizes), 13);
  const Tensor bias = testing::random_tensor(Shape{sizes.batch, sizes.key_length}, 14);
  testing::expect_close(scaled_dot_product_attention(q, k, v, bias, 0.25f),
                        attention_reference(q, k, v, bias, 0.25), 1e-5, 1e-5);
}

TEST(ScaledDotProductAttention, MaskedKeysGetNoWeight) {
  const Sizes sizes{2, 3, 5, 2, 4};
  const Tensor q = testing::random_tensor(query_shape(sizes), 21);
  const Tensor k = testing::random_tensor(key_shape(sizes), 22);
  const Tensor v = testing::random_tensor(key_shape(sizes), 23);
  // Batch 0 masks keys 1 and 4 with -inf, batch 1 masks key 0 with a large negative number.
  const Tensor bias = Tensor::from_vector(
      std::vector<float>{0, -kInf, 0, 0, -kInf, -1e9f, 0, 0, 0, 0}, Shape{2, 5});
  const Tensor out = scaled_dot_product_attention(q, k, v, bias, 0.5f);
  testing::expect_close(out, attention_reference(q, k, v, bias, 0.5), 1e-5, 1e-5);
  // What the masked keys and values hold does not matter.
  std::vector<float> k_values = k.to_vector<float>();
  std::vector<float> v_values = v.to_vector<float>();
  for (const auto& [i, c] : {std::pair{0, 1}, std::pair{0, 4}, std::pair{1, 0}}) {
    for (int64_t j = 0; j < sizes.heads * sizes.head_size; ++j) {
      const int64_t row = i * sizes.key_length + c;
      const auto at = static_cast<size_t>(row * sizes.heads * sizes.head_size + j);
      k_values[at] = 100.0f;
      v_values[at] = -100.0f;
    }
  }
  const Tensor changed = scaled_dot_product_attention(
      q, Tensor::from_vector(k_values, k.shape()), Tensor::from_vector(v_values, v.shape()), bias,
      0.5f);
  testing::expect_close(changed, out, 1e-6, 1e-5);
}

TEST(ScaledDotProductAttention, FullyMaskedRowGivesZerosAndNoNaN) {
  const Sizes sizes{2, 3, 4, 2, 3};
  const Tensor q = testing::random_parameter(query_shape(sizes), 31);
  const Tensor k = testing::random_parameter(key_shape(sizes), 32);
  const Tensor v = testing::random_parameter(key_shape(sizes), 33);
  // Batch 0: every key masked; batch 1: none.
  const Tensor bias = Tensor::from_vector(
      std::vector<float>{-kInf, -kInf, -kInf, -kInf, 0, 0, 0, 0}, Shape{2, 4});
  const Tensor out = scaled_dot_product_attention(q, k, v, bias, 1.0f);
  testing::expect_close(out, attention_reference(q, k, v, bias, 1.0), 1e-5, 1e-5);
  out.backward(Tensor::ones(out.shape()));
  for (const Tensor& grad : {q.grad(), k.grad(), v.grad()}) {
    const std::vector<float> values = grad.to_vector<float>();
    // Batch 0 (the first half of every gradient) gets nothing through its masked rows.
    const auto batch_elements = static_cast<size_t>(grad.numel() / sizes.batch);
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_TRUE(std::isfinite(values[i])) << "element " << i;
      if (i < batch_elements) {
        EXPECT_EQ(values[i], 0.0f) << "element " << i;
      }
    }
  }
}

TEST(ScaledDotProductAttention, GradientsMatchFiniteDifferences) {
  uint64_t seed = 41;
  for (const Sizes& sizes : {Sizes{2, 3, 4, 3, 2}, Sizes{1, 1, 1, 1, 1}, Sizes{1, 4, 2, 2, 3}}) {
    SCOPED_TRACE(::testing::Message() << "b " << sizes.batch << " s_q " << sizes.query_length
                                      << " s_k " << sizes.key_length << " heads " << sizes.heads
                                      << " d " << sizes.head_size);
    const Tensor q = testing::random_parameter(query_shape(sizes), seed++);
    const Tensor k = testing::random_parameter(key_shape(sizes), seed++);
    const Tensor v = testing::random_parameter(key_shape(sizes), seed++);
    const Tensor bias = testing::random_tensor(Shape{sizes.batch, sizes.key_length}, seed++);
    for (const Tensor& key_bias : {Tensor(), bias}) {
      testing::expect_gradients_match(
          [&](const std::vector<Tensor>& inputs) {
            return scaled_dot_product_attention(inputs[0], inputs[1], inputs[2], key_bias, 0.7f);
          },
          {q, k, v});
    }
  }
}

TEST(ScaledDotProductAttention, GradientsWithMaskedKeysMatchFiniteDifferences) {
  const Sizes sizes{2, 3, 4, 2, 2};
  const Tensor q = testing::random_parameter(query_shape(sizes), 51);
  const Tensor k = testing::random_parameter(key_shape(sizes), 52);
  const Tensor v = testing::random_parameter(key_shape(sizes), 53);
  const Tensor bias =
      Tensor::from_vector(std::vector<float>{0, -kInf, 0, -1e9f, -kInf, 0, 0, 0}, Shape{2, 4});
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& inputs) {
        return scaled_dot_product_attention(inputs[0], inputs[1], inputs[2], bias, 0.5f);
      },
      {q, k, v});
}

TEST(ScaledDotProductAttention, KeyBiasGetsNoGradient) {
  const Sizes sizes{1, 2, 3, 1, 2};
  const Tensor q = testing::random_parameter(query_shape(sizes), 61);
  const Tensor bias = testing::random_parameter(Shape{1, 3}, 62);
  const Tensor k = testing::random_tensor(key_shape(sizes), 63);
  const Tensor out = scaled_dot_product_attention(q, k, k, bias, 1.0f);
  out.backward(Tensor::ones(out.shape()));
  EXPECT_TRUE(q.grad().defined());
  EXPECT_FALSE(bias.grad().defined());
}

TEST(ScaledDotProductAttention, HalfPrecisionMatchesF32WithinTwoPercent) {
  const Sizes sizes{2, 7, 5, 3, 8};
  const Tensor q = testing::random_tensor(query_shape(sizes), 71);
  const Tensor k = testing::random_tensor(key_shape(sizes), 72);
  const Tensor v = testing::random_tensor(key_shape(sizes), 73);
  const Tensor bias =
      Tensor::from_vector(std::vector<float>{0, 0, -kInf, 0, 0.5f, -1e4f, 0, 0, 0, 0}, Shape{2, 5});
  const Tensor grad_out = testing::random_tensor(query_shape(sizes), 74);
  const auto run = [&](DType dtype) {
    const Tensor lq = q.to(dtype).detach().set_requires_grad(RequiresGrad::kYes);
    const Tensor lk = k.to(dtype).detach().set_requires_grad(RequiresGrad::kYes);
    const Tensor lv = v.to(dtype).detach().set_requires_grad(RequiresGrad::kYes);
    const Tensor out = scaled_dot_product_attention(lq, lk, lv, bias.to(dtype), 0.35f);
    out.backward(grad_out.to(dtype));
    return std::vector<Tensor>{out, lq.grad(), lk.grad(), lv.grad()};
  };
  const std::vector<Tensor> reference = run(DType::kF32);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    const std::vector<Tensor> result = run(dtype);
    for (size_t i = 0; i < result.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << dtype << " tensor " << i << " (out, dq, dk, dv)");
      EXPECT_EQ(result[i].dtype(), dtype);
      EXPECT_LE(relative_error(result[i], reference[i]), 2e-2);
    }
  }
}

TEST(ScaledDotProductAttention, RejectsBadArguments) {
  const Tensor q = Tensor::zeros(Shape{2, 3, 4, 5});
  const Tensor k = Tensor::zeros(Shape{2, 6, 4, 5});
  const Tensor bias = Tensor::zeros(Shape{2, 6});
  const auto call = [](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& d,
                       float scale = 1.0f) {
    return [=] { static_cast<void>(scaled_dot_product_attention(a, b, c, d, scale)); };
  };
  EXPECT_TRUE(testing::throws_error(call(Tensor::zeros(Shape{2, 3, 20}), k, k, bias),
                                    {"scaled_dot_product_attention", "queries", "[2, 3, 20]"}));
  EXPECT_TRUE(testing::throws_error(call(q, k, Tensor::zeros(Shape{2, 5, 4, 5}), bias),
                                    {"keys have shape [2, 6, 4, 5]",
                                     "values have shape [2, 5, 4, 5]"}));
  const Tensor other_heads = Tensor::zeros(Shape{2, 6, 2, 5});
  EXPECT_TRUE(testing::throws_error(call(q, other_heads, other_heads, bias),
                                    {"keys have shape [2, 6, 2, 5]", "heads (4)"}));
  const Tensor other_batch = Tensor::zeros(Shape{1, 6, 4, 5});
  EXPECT_TRUE(testing::throws_error(call(q, other_batch, other_batch, bias),
                                    {"keys have shape [1, 6, 4, 5]", "batch (2)"}));
  const Tensor other_size = Tensor::zeros(Shape{2, 6, 4, 3});
  EXPECT_TRUE(testing::throws_error(call(q, other_size, other_size, bias), {"head size (5)"}));
  EXPECT_TRUE(testing::throws_error(call(q, k, k, Tensor::zeros(Shape{2, 1, 6})),
                                    {"key_bias has shape [2, 1, 6]", "expected [2, 6]"}));
  EXPECT_TRUE(testing::throws_error(call(q, k, k, Tensor::zeros(Shape{2, 3})),
                                    {"key_bias has shape [2, 3]"}));
  EXPECT_TRUE(testing::throws_error(call(q, k.to(DType::kBF16), k, bias), {"dtypes differ"}));
  EXPECT_TRUE(testing::throws_error(call(q, k, k, bias.to(DType::kBF16)), {"dtypes differ"}));
  EXPECT_TRUE(testing::throws_error(
      call(Tensor::zeros(Shape{2, 3, 4, 5}, DType::kI32), k, k, bias), {"queries", "i32"}));
  EXPECT_TRUE(testing::throws_error(call(q, k, k, bias, std::nanf("")), {"scale must be finite"}));
  const Tensor no_heads = Tensor::zeros(Shape{2, 3, 0, 5});
  EXPECT_TRUE(testing::throws_error(call(no_heads, k, k, bias), {"heads > 0"}));
  EXPECT_TRUE(
      testing::throws_error(call(Tensor(), k, k, bias), {"queries is an undefined tensor"}));
}

}  // namespace
}  // namespace hive
