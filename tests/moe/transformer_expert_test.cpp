// The transformer expert and its self-attention: attention against a plain-loop reference,
// padding that hides tokens, permutation equivariance, and finite-difference gradients.
#include "moe/experts/transformer_expert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend_gradient_check.h"
#include "engine/ops.h"
#include "moe/server/expert_backend.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::random_tensor;

constexpr int64_t kHidden = 4;
constexpr int64_t kHeads = 2;
constexpr int64_t kSequence = 3;

std::unique_ptr<TransformerExpert> make_expert() {
  Generator generator(12);
  return std::make_unique<TransformerExpert>(kHidden, kHeads, kSequence, generator);
}

Tensor no_padding(int64_t batch) { return Tensor::zeros(Shape{batch, kSequence}, DType::kU8); }

// Multi-head self-attention of one sequence x [s, h] in double, from in_proj / out_proj
// weights in PyTorch's layout: the oracle for SelfAttention.
std::vector<double> reference_attention(const std::vector<float>& x,
                                        const std::map<std::string, std::vector<float>>& p,
                                        int64_t s, int64_t h, int64_t heads) {
  const auto project = [&](const std::vector<float>& weight, const std::vector<float>& bias,
                           int64_t row_offset, const std::vector<double>& in, int64_t out_size) {
    std::vector<double> out(static_cast<size_t>(s * out_size));
    for (int64_t t = 0; t < s; ++t) {
      for (int64_t o = 0; o < out_size; ++o) {
        double sum = bias[static_cast<size_t>(row_offset + o)];
        for (int64_t i = 0; i < h; ++i) {
          sum += weight[static_cast<size_t>((row_offset + o) * h + i)] *
                 in[static_cast<size_t>(t * h + i)];
        }
        out[static_cast<size_t>(t * out_size + o)] = sum;
      }
    }
    return out;
  };
  const std::vector<double> input(x.begin(), x.end());
  const auto& w_in = p.at("in_proj.weight");
  const auto& b_in = p.at("in_proj.bias");
  const std::vector<double> q = project(w_in, b_in, 0, input, h);
  const std::vector<double> k = project(w_in, b_in, h, input, h);
  const std::vector<double> v = project(w_in, b_in, 2 * h, input, h);
  const int64_t d = h / heads;
  std::vector<double> mixed(static_cast<size_t>(s * h), 0.0);
  for (int64_t head = 0; head < heads; ++head) {
    for (int64_t i = 0; i < s; ++i) {
      std::vector<double> weights(static_cast<size_t>(s));
      double total = 0.0;
      for (int64_t j = 0; j < s; ++j) {
        double score = 0.0;
        for (int64_t c = head * d; c < (head + 1) * d; ++c) {
          score += q[static_cast<size_t>(i * h + c)] * k[static_cast<size_t>(j * h + c)];
        }
        weights[static_cast<size_t>(j)] = std::exp(score / std::sqrt(static_cast<double>(d)));
        total += weights[static_cast<size_t>(j)];
      }
      for (int64_t j = 0; j < s; ++j) {
        for (int64_t c = head * d; c < (head + 1) * d; ++c) {
          mixed[static_cast<size_t>(i * h + c)] +=
              weights[static_cast<size_t>(j)] / total * v[static_cast<size_t>(j * h + c)];
        }
      }
    }
  }
  return project(p.at("out_proj.weight"), p.at("out_proj.bias"), 0, mixed, h);
}

TEST(SelfAttention, MatchesAPlainLoopReference) {
  Generator generator(5);
  SelfAttention attention(kHidden, kHeads, generator);
  std::map<std::string, std::vector<float>> params;
  for (const auto& [name, param] : attention.named_parameters()) {
    params[name] = param.to_vector<float>();
  }
  const Tensor x = random_tensor(Shape{1, kSequence, kHidden}, 6);
  const std::vector<double> expected =
      reference_attention(x.to_vector<float>(), params, kSequence, kHidden, kHeads);
  expect_close(attention.forward(x, Tensor()), std::vector<float>(expected.begin(), expected.end()),
               1e-5, 1e-5);
}

TEST(TransformerExpert, TakesSequencesAndTheirPaddingMasks) {
  EXPECT_EQ(make_expert()->schema(),
            (ExpertSchema{.inputs = {{DType::kF32, Shape{kSequence, kHidden}},
                                     {DType::kU8, Shape{kSequence}}},
                          .outputs = {{DType::kF32, Shape{kSequence, kHidden}}}}));
}

TEST(TransformerExpert, HasAnEncoderLayersParameters) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, param] : make_expert()->named_parameters()) shapes[name] = param.shape();
  EXPECT_EQ(shapes, (std::map<std::string, Shape>{{"self_attn.in_proj.weight", Shape{12, 4}},
                                                  {"self_attn.in_proj.bias", Shape{12}},
                                                  {"self_attn.out_proj.weight", Shape{4, 4}},
                                                  {"self_attn.out_proj.bias", Shape{4}},
                                                  {"linear1.weight", Shape{16, 4}},
                                                  {"linear1.bias", Shape{16}},
                                                  {"linear2.weight", Shape{4, 16}},
                                                  {"linear2.bias", Shape{4}},
                                                  {"norm1.weight", Shape{4}},
                                                  {"norm1.bias", Shape{4}},
                                                  {"norm2.weight", Shape{4}},
                                                  {"norm2.bias", Shape{4}}}));
}

TEST(TransformerExpert, PaddingTokensDoNotAffectOtherTokens) {
  auto expert = make_expert();
  const Tensor x = random_tensor(Shape{2, kSequence, kHidden}, 7);
  // The last token of sequence 0 is padding; sequence 1 has none.
  const Tensor padding =
      Tensor::from_vector(std::vector<uint8_t>{0, 0, 1, 0, 0, 0}, Shape{2, kSequence});
  Tensor changed = x.clone();
  for (int64_t c = 0; c < kHidden; ++c) changed.data<float>()[2 * kHidden + c] = 50.0f;
  const std::vector<float> before = expert->forward(std::vector{x, padding})[0].to_vector<float>();
  const std::vector<float> after =
      expert->forward(std::vector{changed, padding})[0].to_vector<float>();
  for (size_t i = 0; i < before.size(); ++i) {
    const bool padded_token = i >= 2 * kHidden && i < 3 * kHidden;
    if (!padded_token) {
      EXPECT_FLOAT_EQ(after[i], before[i]) << "element " << i;
    }
  }
}

TEST(TransformerExpert, PermutingTokensPermutesTheOutput) {
  // Without positional encodings, attention treats a sequence as a set.
  auto expert = make_expert();
  const Tensor x = random_tensor(Shape{1, kSequence, kHidden}, 8);
  const Tensor order = Tensor::from_vector(std::vector<int64_t>{2, 0, 1}, Shape{kSequence});
  const Tensor output = expert->forward(std::vector{x, no_padding(1)})[0];
  const Tensor permuted_output =
      expert->forward(std::vector{index_select(x, 1, order), no_padding(1)})[0];
  expect_close(permuted_output, index_select(output, 1, order), 1e-5, 1e-5);
}

TEST(TransformerExpert, BackwardGivesFiniteDifferenceInputGradientsAndZerosForThePadding) {
  ExpertBackend backend(ExpertUid::parse("transformer.1.2").value(), make_expert(),
                        {.optimizer = {.type = OptimizerType::kNone}});
  const std::vector<Tensor> inputs = {random_tensor(Shape{2, kSequence, kHidden}, 9),
                                      no_padding(2)};
  const std::vector<Tensor> probes = {random_tensor(Shape{2, kSequence, kHidden}, 10)};
  const std::vector<Tensor> grads = backend.backward(inputs, probes).value();
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_EQ(grads[1].dtype(), DType::kU8);
  EXPECT_EQ(grads[1].to_vector<uint8_t>(), std::vector<uint8_t>(2 * kSequence, 0));
  testing::expect_input_gradient_matches(backend, inputs, 0, probes, grads[0], 1e-2, 5e-3);
}

TEST(TransformerExpert, RefusesAHiddenSizeThatTheHeadsDoNotDivide) {
  Generator generator(1);
  EXPECT_TRUE(
      hive::testing::throws_error([&] { TransformerExpert expert(6, 4, kSequence, generator); },
                                  {"self-attention: hidden size 6 is not a multiple of 4 heads"}));
}

}  // namespace
}  // namespace hive::moe
