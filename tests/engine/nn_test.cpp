// nn modules: parameter naming, initialization, modes, loading and the "ffn" expert block.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/ffn_expert.h"
#include "engine/nn/layers.h"
#include "engine/nn/metrics.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : named) names.push_back(name);
  return names;
}

std::map<std::string, Tensor> by_name(const nn::Module& module) {
  const nn::NamedTensors named = module.named_parameters();
  return {named.begin(), named.end()};
}

// Linear(3, 5) -> GELU -> Linear(5, 2).
std::shared_ptr<nn::Sequential> small_mlp(uint64_t seed) {
  Generator generator(seed);
  auto mlp = std::make_shared<nn::Sequential>();
  mlp->add(std::make_shared<nn::Linear>(3, 5, generator))
      .add(std::make_shared<nn::GELU>())
      .add(std::make_shared<nn::Linear>(5, 2, generator));
  return mlp;
}

// Row-major [rows, out] = x [rows, in] W^T [in, out] + b, in double.
std::vector<double> linear_reference(const std::vector<double>& x, int64_t rows, const Tensor& weight,
                                     const Tensor& bias) {
  const int64_t out = weight.size(0);
  const int64_t in = weight.size(1);
  const std::vector<float> w = weight.to_vector<float>();
  const std::vector<float> b = bias.to_vector<float>();
  std::vector<double> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double total = b[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) {
        total += x[static_cast<size_t>(r * in + i)] * w[static_cast<size_t>(o * in + i)];
      }
      y[static_cast<size_t>(r * out + o)] = total;
    }
  }
  return y;
}

double gelu_reference(double x) {
  const double sqrt_two_over_pi = std::sqrt(2.0 / std::acos(-1.0));
  return 0.5 * x * (1.0 + std::tanh(sqrt_two_over_pi * (x + 0.044715 * x * x * x)));
}

TEST(Module, NamedParametersAreDottedInRegistrationOrder) {
  const auto mlp = small_mlp(1);
  EXPECT_EQ(names_of(mlp->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
}

TEST(Module, ParameterCountSumsElements) {
  EXPECT_EQ(small_mlp(1)->parameter_count(), 3 * 5 + 5 + 5 * 2 + 2);
}

TEST(FeedForwardExpert, ParametersHaveExpectedNamesAndShapes) {
  constexpr int64_t kHidden = 6;
  Generator generator(2);
  const nn::FeedForwardExpert expert(kHidden, generator);
  const nn::NamedTensors named = expert.named_parameters();
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"up.weight", Shape{4 * kHidden, kHidden}}, {"up.bias", Shape{4 * kHidden}},
      {"down.weight", Shape{kHidden, 4 * kHidden}}, {"down.bias", Shape{kHidden}},
      {"norm.weight", Shape{kHidden}},              {"norm.bias", Shape{kHidden}}};
  ASSERT_EQ(named.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(named[i].first, expected[i].first);
    EXPECT_EQ(named[i].second.shape(), expected[i].second) << named[i].first;
  }
}

TEST(FeedForwardExpert, ForwardMatchesHandComputedBlock) {
  constexpr int64_t kHidden = 5;
  constexpr int64_t kRows = 4;
  Generator generator(3);
  nn::FeedForwardExpert expert(kHidden, generator);
  // LayerNorm starts at weight 1, bias 0; random values make the test see its affine part too.
  const std::map<std::string, Tensor> params = by_name(expert);
  params.at("norm.weight").copy_from(Tensor::randn(Shape{kHidden}, generator));
  params.at("norm.bias").copy_from(Tensor::randn(Shape{kHidden}, generator));
  const Tensor x = Tensor::randn(Shape{kRows, kHidden}, generator);

  const std::vector<float> x_values = x.to_vector<float>();
  const std::vector<double> x_double(x_values.begin(), x_values.end());
  std::vector<double> hidden =
      linear_reference(x_double, kRows, params.at("up.weight"), params.at("up.bias"));
  for (double& value : hidden) value = gelu_reference(value);
  const std::vector<double> down =
      linear_reference(hidden, kRows, params.at("down.weight"), params.at("down.bias"));
  const std::vector<float> gamma = params.at("norm.weight").to_vector<float>();
  const std::vector<float> beta = params.at("norm.bias").to_vector<float>();
  std::vector<float> expected;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<double> residual(kHidden);
    double mean = 0.0;
    for (int64_t c = 0; c < kHidden; ++c) {
      const auto i = static_cast<size_t>(r * kHidden + c);
      residual[static_cast<size_t>(c)] = x_double[i] + down[i];
      mean += residual[static_cast<size_t>(c)] / kHidden;
    }
    double variance = 0.0;
    for (double value : residual) variance += (value - mean) * (value - mean) / kHidden;
    for (int64_t c = 0; c < kHidden; ++c) {
      const auto i = static_cast<size_t>(c);
      expected.push_back(static_cast<float>((residual[i] - mean) / std::sqrt(variance + 1e-5) *
                                                gamma[i] + beta[i]));
    }
  }
  testing::expect_close(expert.forward(x), expected, 1e-5, 1e-5);
}

TEST(Linear, InitializationIsBoundedByInverseSqrtOfInputs) {
  constexpr int64_t kIn = 50;
  Generator generator(4);
  const nn::Linear layer(kIn, 30, generator);
  const double bound = 1.0 / std::sqrt(static_cast<double>(kIn));
  for (const Tensor& param : {layer.weight(), layer.bias()}) {
    for (float value : param.to_vector<float>()) {
      EXPECT_LE(std::abs(value), bound);
    }
  }
}

TEST(Linear, InitializationIsDeterministicForASeed) {
  Generator first_generator(5);
  Generator second_generator(5);
  const nn::Linear first(7, 3, first_generator);
  const nn::Linear second(7, 3, second_generator);
  testing::expect_close(first.weight(), second.weight(), 0.0, 0.0);
  testing::expect_close(first.bias(), second.bias(), 0.0, 0.0);
}

TEST(LayerNorm, StartsAsIdentityAffine) {
  const nn::LayerNorm norm(4);
  const std::map<std::string, Tensor> params = by_name(norm);
  testing::expect_close(params.at("weight"), {1.0f, 1.0f, 1.0f, 1.0f}, 0.0, 0.0);
  testing::expect_close(params.at("bias"), {0.0f, 0.0f, 0.0f, 0.0f}, 0.0, 0.0);
}

TEST(Dropout, ZeroesAndScalesInTrainMode) {
  nn::Dropout dropout(0.5f, 6);
  const std::vector<float> out = dropout(Tensor::ones(Shape{1000})).to_vector<float>();
  int64_t zeros = 0;
  for (float value : out) {
    EXPECT_TRUE(value == 0.0f || value == 2.0f) << value;
    zeros += value == 0.0f ? 1 : 0;
  }
  EXPECT_GT(zeros, 400);
  EXPECT_LT(zeros, 600);
}

TEST(Dropout, SetModeReachesNestedDropoutWhichBecomesIdentity) {
  nn::Sequential outer;
  auto inner = std::make_shared<nn::Sequential>();
  auto dropout = std::make_shared<nn::Dropout>(0.5f, 7);
  inner->add(dropout);
  outer.add(inner);
  outer.set_mode(nn::Mode::kEval);
  EXPECT_EQ(dropout->mode(), nn::Mode::kEval);
  Generator generator(8);
  const Tensor x = Tensor::randn(Shape{10, 10}, generator);
  testing::expect_close(outer(x), x, 0.0, 0.0);
}

TEST(Module, LoadParametersCopiesValues) {
  const auto source = small_mlp(9);
  const auto target = small_mlp(10);
  target->load_parameters(by_name(*source));
  const std::map<std::string, Tensor> loaded = by_name(*target);
  for (const auto& [name, value] : source->named_parameters()) {
    testing::expect_close(loaded.at(name), value, 0.0, 0.0);
  }
}

TEST(Module, LoadParametersRejectsMissingName) {
  const auto model = small_mlp(11);
  std::map<std::string, Tensor> values = by_name(*small_mlp(12));
  values.erase("2.bias");
  EXPECT_TRUE(testing::throws_error([&] { model->load_parameters(values); },
                                    {"load_parameters", "'2.bias'", "missing"}));
}

TEST(Module, LoadParametersRejectsExtraName) {
  const auto model = small_mlp(13);
  std::map<std::string, Tensor> values = by_name(*small_mlp(14));
  values.emplace("3.weight", Tensor::zeros(Shape{2, 2}));
  EXPECT_TRUE(testing::throws_error([&] { model->load_parameters(values); },
                                    {"load_parameters", "'3.weight'", "not a parameter"}));
}

TEST(Module, LoadParametersRejectsWrongShapeAndKeepsValues) {
  const auto model = small_mlp(15);
  const Tensor before = by_name(*model).at("0.weight").clone();
  std::map<std::string, Tensor> values = by_name(*small_mlp(16));
  values["2.weight"] = Tensor::zeros(Shape{5, 2});
  EXPECT_TRUE(testing::throws_error([&] { model->load_parameters(values); },
                                    {"load_parameters", "'2.weight'", "[5, 2]", "[2, 5]"}));
  testing::expect_close(by_name(*model).at("0.weight"), before, 0.0, 0.0);
}

TEST(Module, ToCpuIsANoOp) {
  const auto model = small_mlp(17);
  const Tensor weight = by_name(*model).at("0.weight");
  const void* data = weight.raw_data();
  weight.set_grad(Tensor::ones(weight.shape()));
  model->to(Device::cpu());
  EXPECT_EQ(weight.raw_data(), data);
  EXPECT_TRUE(weight.grad().defined());
}

}  // namespace
}  // namespace hive

namespace hive {
namespace {

TEST(Metrics, CountCorrectTakesTheFirstLargestLogit) {
  // Row 1 ties classes 0 and 2: the prediction is the first, class 0.
  const Tensor logits = Tensor::from_vector(
      std::vector<float>{0.1f, 0.9f, 0.0f, 0.5f, 0.2f, 0.5f, -1.0f, -2.0f, -0.5f}, Shape{3, 3});
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 2, 2}, Shape{3});
  EXPECT_EQ(nn::count_correct(logits, labels), 2);
  EXPECT_TRUE(testing::throws_error([&] { (void)nn::count_correct(logits, labels.rows(0, 2)); },
                                    {"count_correct", "[3, 3]", "[2]"}));
}

}  // namespace
}  // namespace hive
