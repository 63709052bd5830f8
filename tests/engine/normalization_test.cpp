#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

// Layer norm over the last axis in double, with the biased variance (as PyTorch).
std::vector<float> layer_norm_reference(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                        double eps) {
  const std::vector<float> values = x.to_vector<float>();
  const std::vector<float> w = weight.defined() ? weight.to_vector<float>() : std::vector<float>();
  const std::vector<float> b = bias.defined() ? bias.to_vector<float>() : std::vector<float>();
  const auto features = static_cast<size_t>(x.size(-1));
  std::vector<float> out(values.size());
  for (size_t row = 0; row * features < values.size(); ++row) {
    const float* line = values.data() + row * features;
    double mean = 0.0;
    for (size_t c = 0; c < features; ++c) mean += line[c];
    mean /= static_cast<double>(features);
    double variance = 0.0;
    for (size_t c = 0; c < features; ++c) variance += (line[c] - mean) * (line[c] - mean);
    variance /= static_cast<double>(features);
    for (size_t c = 0; c < features; ++c) {
      double v = (line[c] - mean) / std::sqrt(variance + eps);
      if (!w.empty()) v *= w[c];
      if (!b.empty()) v += b[c];
      out[row * features + c] = static_cast<float>(v);
    }
  }
  return out;
}

TEST(LayerNorm, MatchesDoubleReferenceWithWeightAndBias) {
  for (const Shape& shape : {Shape{4, 8}, Shape{2, 3, 5}, Shape{7}}) {
    SCOPED_TRACE(::testing::Message() << shape);
    const Tensor x = add_scalar(testing::random_tensor(shape, 1, 3.0f), 2.0f);
    const Tensor weight = testing::random_tensor(Shape{shape.back()}, 2);
    const Tensor bias = testing::random_tensor(Shape{shape.back()}, 3);
    const Tensor out = layer_norm(x, weight, bias);
    EXPECT_EQ(out.shape(), shape);
    testing::expect_close(out, layer_norm_reference(x, weight, bias, 1e-5), 1e-5, 1e-5);
  }
}

TEST(LayerNorm, MatchesDoubleReferenceWithoutWeightOrBias) {
  const Tensor x = testing::random_tensor(Shape{3, 6}, 4);
  const Tensor weight = testing::random_tensor(Shape{6}, 5);
  const Tensor bias = testing::random_tensor(Shape{6}, 6);
  testing::expect_close(layer_norm(x, Tensor(), Tensor()),
                        layer_norm_reference(x, Tensor(), Tensor(), 1e-5), 1e-5, 1e-5);
  testing::expect_close(layer_norm(x, weight, Tensor()),
                        layer_norm_reference(x, weight, Tensor(), 1e-5), 1e-5, 1e-5);
  testing::expect_close(layer_norm(x, Tensor(), bias),
                        layer_norm_reference(x, Tensor(), bias, 1e-5), 1e-5, 1e-5);
}

TEST(LayerNorm, LargeEpsilonShrinksTheOutput) {
  const Tensor x = testing::random_tensor(Shape{2, 4}, 7);
  testing::expect_close(layer_norm(x, Tensor(), Tensor(), 0.5f),
                        layer_norm_reference(x, Tensor(), Tensor(), 0.5), 1e-5, 1e-5);
}

TEST(LayerNorm, ConstantRowsGiveTheBias) {
  const Tensor x = Tensor::full(Shape{3, 4}, 5.0);
  const Tensor bias = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{4});
  testing::expect_close(layer_norm(x, Tensor::ones(Shape{4}), bias),
                        {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  testing::expect_close(layer_norm(Tensor::full(Shape{2, 1}, -3.0), Tensor(), Tensor()), {0, 0});
}

TEST(LayerNorm, ManyRowsMatchDoubleReference) {
  // Enough rows for the kernels to split them across threads.
  const Tensor x = testing::random_tensor(Shape{1000, 48}, 8);
  const Tensor weight = testing::random_tensor(Shape{48}, 9);
  const Tensor bias = testing::random_tensor(Shape{48}, 10);
  testing::expect_close(layer_norm(x, weight, bias), layer_norm_reference(x, weight, bias, 1e-5),
                        1e-5, 1e-4);
}

TEST(LayerNorm, HalfPrecisionAgreesWithSinglePrecision) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor x = testing::random_tensor(Shape{4, 8}, 11).to(dtype);
    const Tensor weight = testing::random_tensor(Shape{8}, 12).to(dtype);
    const Tensor bias = testing::random_tensor(Shape{8}, 13).to(dtype);
    const Tensor out = layer_norm(x, weight, bias);
    EXPECT_EQ(out.dtype(), dtype);
    testing::expect_close(
        out, layer_norm(x.to(DType::kF32), weight.to(DType::kF32), bias.to(DType::kF32)), 2e-2,
        1e-2);
  }
}

TEST(LayerNorm, GradientsMatchFiniteDifferences) {
  const Tensor x = testing::random_parameter(Shape{3, 5}, 14);
  const Tensor weight = testing::random_parameter(Shape{5}, 15);
  const Tensor bias = testing::random_parameter(Shape{5}, 16);
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); },
      {x, weight, bias});
}

TEST(LayerNorm, GradientsMatchFiniteDifferencesForThreeDimensionalInput) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); },
      {testing::random_parameter(Shape{2, 2, 4}, 17), testing::random_parameter(Shape{4}, 18),
       testing::random_parameter(Shape{4}, 19)});
}

TEST(LayerNorm, GradientsMatchFiniteDifferencesWithoutAffineParameters) {
  const Tensor x = testing::random_parameter(Shape{3, 4}, 20);
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor()); }, {x});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), in[1]); },
      {x, testing::random_parameter(Shape{4}, 21)});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], Tensor()); },
      {x, testing::random_parameter(Shape{4}, 22)});
}

TEST(LayerNorm, ParameterGradientsWithoutInputGradient) {
  const Tensor x = testing::random_parameter(Shape{3, 4}, 23).detach();
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) { return layer_norm(x, in[0], in[1]); },
      {testing::random_parameter(Shape{4}, 24), testing::random_parameter(Shape{4}, 25)});
}

TEST(LayerNorm, RejectsWrongParameterShapes) {
  const Tensor x = Tensor::zeros(Shape{2, 5});
  EXPECT_TRUE(testing::throws_error([&] { layer_norm(x, Tensor::ones(Shape{4}), Tensor()); },
                                    {"layer_norm", "weight", "[4]", "[2, 5]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        layer_norm(x, Tensor(), Tensor::zeros(Shape{5, 1}));
      },
      {"layer_norm", "bias", "[5, 1]", "[2, 5]"}));
  EXPECT_TRUE(
      testing::throws_error([&] { layer_norm(x, Tensor::ones(Shape{5}, DType::kF16), Tensor()); },
                            {"layer_norm", "f16", "[5]"}));
}

TEST(LayerNorm, RejectsBadInputs) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        layer_norm(Tensor::zeros(Shape{2, 5}), Tensor(), Tensor(), 0.0f);
      },
      {"layer_norm", "eps"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        layer_norm(Tensor::zeros(Shape{2, 5}, DType::kI32), Tensor(), Tensor());
      },
      {"layer_norm", "i32", "[2, 5]"}));
  EXPECT_TRUE(testing::throws_error([] { layer_norm(Tensor::scalar(1.0), Tensor(), Tensor()); },
                                    {"layer_norm", "[]"}));
}

}  // namespace
}  // namespace hive
