// feed_forward and the backward GEMM epilogues on the CPU: both must give exactly what the
// unfused ops give (the same kernels run), forward and every gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "engine/core/backend.h"
#include "engine/nn/ffn_expert.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

using Layers = std::function<Tensor(const std::vector<Tensor>&)>;

// x, w1, b1, w2, b2 as leaves of `dtype` requiring grad (b1 and b2 undefined when asked).
enum class Biases : uint8_t { kNo, kYes };
std::vector<Tensor> block_inputs(const Shape& x_shape, int64_t hidden, int64_t out, Biases biases,
                                 DType dtype, uint64_t seed) {
  const int64_t in = x_shape[x_shape.rank() - 1];
  const auto leaf = [&](const Shape& shape, uint64_t offset) {
    return testing::random_tensor(shape, seed + offset, 0.5f)
        .to(dtype)
        .set_requires_grad(RequiresGrad::kYes);
  };
  return {leaf(x_shape, 0), leaf(Shape{hidden, in}, 1),
          biases == Biases::kYes ? leaf(Shape{hidden}, 2) : Tensor(), leaf(Shape{out, hidden}, 3),
          biases == Biases::kYes ? leaf(Shape{out}, 4) : Tensor()};
}

Tensor fused(const std::vector<Tensor>& in) { return feed_forward(in[0], in[1], in[2], in[3], in[4]); }
Tensor composed(const std::vector<Tensor>& in) {
  return linear(linear_gelu(in[0], in[1], in[2]), in[3], in[4]);
}

// The output of `layers`, then the gradient of sum(output * probe) for every input (undefined
// for inputs that need none).
std::vector<Tensor> output_and_gradients(const Layers& layers, const std::vector<Tensor>& inputs) {
  for (const Tensor& input : inputs) {
    if (input.defined()) input.zero_grad();
  }
  const Tensor out = layers(inputs);
  const Tensor probe = testing::random_tensor(out.shape(), 90).to(out.dtype());
  sum(mul(out, probe)).backward();
  std::vector<Tensor> results{out.detach()};
  for (const Tensor& input : inputs) results.push_back(input.defined() ? input.grad() : Tensor());
  return results;
}

void expect_same_as_composition(const std::vector<Tensor>& inputs, double tolerance = 0.0) {
  const std::vector<Tensor> expected = output_and_gradients(composed, inputs);
  const std::vector<Tensor> actual = output_and_gradients(fused, inputs);
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i == 0 ? "output" : "gradient of input " + std::to_string(i - 1));
    ASSERT_EQ(actual[i].defined(), expected[i].defined());
    if (expected[i].defined()) testing::expect_close(actual[i], expected[i], tolerance, tolerance);
  }
}

TEST(FeedForward, EqualsLinearGeluThenLinearExactly) {
  expect_same_as_composition(block_inputs(Shape{3, 5, 7}, 13, 6, Biases::kYes, DType::kF32, 1));
  expect_same_as_composition(block_inputs(Shape{4, 16}, 32, 8, Biases::kYes, DType::kF32, 2));
}

TEST(FeedForward, WithoutBiasesOneRowAndOddSizesEqualsComposition) {
  expect_same_as_composition(block_inputs(Shape{3, 5}, 9, 3, Biases::kNo, DType::kF32, 3));
  expect_same_as_composition(block_inputs(Shape{1, 6}, 11, 5, Biases::kYes, DType::kF32, 4));
  expect_same_as_composition(block_inputs(Shape{6}, 3, 2, Biases::kYes, DType::kF32, 5));
}

TEST(FeedForward, BFloat16EqualsCompositionAndIsCloseToSinglePrecision) {
  const std::vector<Tensor> bf16 = block_inputs(Shape{4, 8}, 24, 8, Biases::kYes, DType::kBF16, 6);
  expect_same_as_composition(bf16);
  std::vector<Tensor> f32;
  for (const Tensor& t : bf16) {
    f32.push_back(t.detach().to(DType::kF32).set_requires_grad(RequiresGrad::kYes));
  }
  const std::vector<Tensor> low = output_and_gradients(fused, bf16);
  const std::vector<Tensor> high = output_and_gradients(fused, f32);
  // bf16 rounds every intermediate, so single elements can stray further; the whole tensor is
  // held to the GPU tests' bound: ||bf16 - f32|| / ||f32|| <= 2e-2.
  for (size_t i = 0; i < low.size(); ++i) {
    SCOPED_TRACE(i);
    const std::vector<float> actual = low[i].to(DType::kF32).to_vector<float>();
    const std::vector<float> expected = high[i].to_vector<float>();
    double error = 0.0;
    double norm = 0.0;
    for (size_t j = 0; j < expected.size(); ++j) {
      error += (actual[j] - expected[j]) * static_cast<double>(actual[j] - expected[j]);
      norm += expected[j] * static_cast<double>(expected[j]);
    }
    EXPECT_LE(std::sqrt(error / norm), 2e-2);
  }
}

TEST(FeedForward, SkipsUnneededGradientsWithoutChangingTheOthers) {
  const std::vector<Tensor> all = block_inputs(Shape{5, 4}, 10, 3, Biases::kYes, DType::kF32, 7);
  const std::vector<Tensor> expected = output_and_gradients(fused, all);
  // Each input alone requires grad; the rest are constants.
  for (size_t only = 0; only < all.size(); ++only) {
    SCOPED_TRACE(only);
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < all.size(); ++i) {
      inputs.push_back(i == only ? all[i] : all[i].detach());
    }
    const std::vector<Tensor> actual = output_and_gradients(fused, inputs);
    testing::expect_close(actual[only + 1], expected[only + 1], 0.0, 0.0);
  }
}

TEST(FeedForward, GradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(fused, {testing::random_parameter(Shape{2, 3, 4}, 70),
                                          testing::random_parameter(Shape{6, 4}, 71),
                                          testing::random_parameter(Shape{6}, 72),
                                          testing::random_parameter(Shape{3, 6}, 73),
                                          testing::random_parameter(Shape{3}, 74)});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return feed_forward(in[0], in[1], Tensor(), in[2], Tensor()); },
      {testing::random_parameter(Shape{1, 5}, 75), testing::random_parameter(Shape{9, 5}, 76),
       testing::random_parameter(Shape{2, 9}, 77)});
}

TEST(FeedForward, RejectsMismatchedSecondLayer) {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  const Tensor w1 = Tensor::zeros(Shape{4, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] { feed_forward(x, w1, Tensor(), Tensor::zeros(Shape{2, 5}), Tensor()); },
      {"feed_forward", "w2", "[2, 5]", "[4, 3]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { feed_forward(x, w1, Tensor(), Tensor::zeros(Shape{2, 4}), Tensor::zeros(Shape{3})); },
      {"feed_forward", "b2", "[3]"}));
}

TEST(FeedForwardExpert, ForwardAndGradientsEqualTheLayerComposition) {
  Generator generator(80);
  nn::FeedForwardExpert expert(4, generator);
  const Tensor x = testing::random_parameter(Shape{3, 4}, 81);
  const std::vector<Tensor> parameters{x, expert.up().weight(), expert.up().bias(),
                                       expert.down().weight(), expert.down().bias()};
  const Layers through_expert = [&](const std::vector<Tensor>&) { return expert.forward(x); };
  // The expert's forward before it used feed_forward.
  const Layers through_layers = [&](const std::vector<Tensor>&) {
    const nn::Linear& up = expert.up();
    const nn::Linear& down = expert.down();
    const Tensor hidden = linear_gelu(x, up.weight(), up.bias());
    return layer_norm(add(x, linear(hidden, down.weight(), down.bias())), expert.norm().weight(),
                      expert.norm().bias(), expert.norm().eps());
  };
  const std::vector<Tensor> expected = output_and_gradients(through_layers, parameters);
  const std::vector<Tensor> actual = output_and_gradients(through_expert, parameters);
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    testing::expect_close(actual[i], expected[i], 0.0, 0.0);
  }
}

// One product with a backward epilogue on the CPU backend.
struct EpilogueCase {
  Tensor a;
  Tensor b;
  Transpose transpose_a;
  int64_t m;
  int64_t k;
  int64_t n;
};

GemmArgs epilogue_args(const EpilogueCase& c, GemmEpilogue epilogue) {
  GemmArgs args;
  args.a = c.a;
  args.b = c.b;
  args.transpose_a = c.transpose_a;
  args.m = c.m;
  args.n = c.n;
  args.k = c.k;
  args.out = Tensor::full(Shape{c.m, c.n}, 7.0f, c.a.dtype());  // poisoned
  args.epilogue = epilogue;
  return args;
}

Tensor op_a(const EpilogueCase& c) { return c.transpose_a == Transpose::kYes ? transpose(c.a) : c.a; }

TEST(GemmEpilogue, BiasGradientEqualsProductAndSumOverK) {
  for (const DType dtype : {DType::kF32, DType::kBF16}) {
    for (const Transpose transposed : {Transpose::kYes, Transpose::kNo}) {
      SCOPED_TRACE(static_cast<int>(transposed));
      const int64_t m = 5, k = 7, n = 3;
      const Shape a_shape = transposed == Transpose::kYes ? Shape{k, m} : Shape{m, k};
      const EpilogueCase c{testing::random_tensor(a_shape, 100).to(dtype),
                           testing::random_tensor(Shape{k, n}, 101).to(dtype), transposed, m, k, n};
      GemmArgs args = epilogue_args(c, GemmEpilogue::kBiasGradient);
      args.bias_grad = Tensor::full(Shape{m}, 7.0f, dtype);
      backend_for(Device::cpu()).gemm(args);
      testing::expect_close(args.out, matmul(op_a(c), c.b), 0.0, 0.0);
      const Tensor expected_bias_grad =
          transposed == Transpose::kYes ? sum_to(c.a, Shape{m}) : sum_to(c.a, Shape{m, 1});
      testing::expect_close(args.bias_grad, expected_bias_grad.reshape(Shape{m}), 0.0, 0.0);
    }
  }
}

TEST(GemmEpilogue, GeluBackwardEqualsProductTimesGeluDerivativeAndColumnSums) {
  for (const DType dtype : {DType::kF32, DType::kBF16}) {
    const int64_t m = 6, k = 4, n = 9;
    const EpilogueCase c{testing::random_tensor(Shape{m, k}, 102).to(dtype),
                         testing::random_tensor(Shape{k, n}, 103).to(dtype), Transpose::kNo, m, k,
                         n};
    const Tensor pre_activation = testing::random_tensor(Shape{m, n}, 104).to(dtype);
    // Unfused: the product, then the GELU's backward, then the column sums.
    const Tensor product = matmul(c.a, c.b);
    Tensor expected = Tensor::empty(product.shape(), dtype);
    backend_for(Device::cpu())
        .unary_backward(UnaryOp::kGelu, product, pre_activation, pre_activation, expected);

    GemmArgs args = epilogue_args(c, GemmEpilogue::kGeluBackwardBiasGradient);
    args.pre_activation = pre_activation;
    backend_for(Device::cpu()).gemm(args);
    testing::expect_close(args.out, expected, 0.0, 0.0);

    args.out = Tensor::full(Shape{m, n}, 7.0f, dtype);
    args.bias_grad = Tensor::full(Shape{n}, 7.0f, dtype);
    backend_for(Device::cpu()).gemm(args);
    testing::expect_close(args.out, expected, 0.0, 0.0);
    testing::expect_close(args.bias_grad, sum_to(expected, Shape{n}), 0.0, 0.0);
  }
}

TEST(GemmEpilogue, EmptyProductsStillWriteTheBiasGradient) {
  const EpilogueCase no_rows{Tensor::zeros(Shape{4, 0}), Tensor::zeros(Shape{4, 3}),
                             Transpose::kYes, 0, 4, 3};
  GemmArgs gelu_backward = epilogue_args(no_rows, GemmEpilogue::kGeluBackwardBiasGradient);
  gelu_backward.pre_activation = Tensor::zeros(Shape{0, 3});
  gelu_backward.bias_grad = Tensor::full(Shape{3}, 7.0f);
  backend_for(Device::cpu()).gemm(gelu_backward);
  testing::expect_close(gelu_backward.bias_grad, {0.0f, 0.0f, 0.0f}, 0.0, 0.0);

  const EpilogueCase no_columns{testing::random_tensor(Shape{4, 2}, 105),
                                Tensor::zeros(Shape{4, 0}), Transpose::kYes, 2, 4, 0};
  GemmArgs bias_gradient = epilogue_args(no_columns, GemmEpilogue::kBiasGradient);
  bias_gradient.bias_grad = Tensor::full(Shape{2}, 7.0f);
  backend_for(Device::cpu()).gemm(bias_gradient);
  testing::expect_close(bias_gradient.bias_grad, sum_to(no_columns.a, Shape{2}), 0.0, 0.0);
}

}  // namespace
}  // namespace hive
