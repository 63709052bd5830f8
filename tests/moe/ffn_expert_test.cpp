// The ffn expert: its shapes and parameters, that it is the local layer's block, and that the
// backend's backward gives finite-difference gradients and an SGD step by the update rule.
#include "moe/experts/ffn_expert.h"

#include <gtest/gtest.h>

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

std::unique_ptr<FfnExpert> make_ffn(uint64_t seed) {
  Generator generator(seed);
  return std::make_unique<FfnExpert>(kHidden, generator);
}

ExpertBackend make_backend(OptimizerConfig optimizer, uint64_t seed = 1) {
  return ExpertBackend(ExpertUid::parse("ffn.3.17").value(), make_ffn(seed),
                       {.max_batch_size = 16, .optimizer = optimizer});
}

TEST(FfnExpert, MapsRowsOfTheHiddenSizeToRowsOfTheHiddenSize) {
  auto expert = make_ffn(1);
  EXPECT_EQ(expert->schema(), (ExpertSchema{.inputs = {{DType::kF32, Shape{kHidden}}},
                                            .outputs = {{DType::kF32, Shape{kHidden}}}}));
  const Tensor x = random_tensor(Shape{5, kHidden}, 2);
  const std::vector<Tensor> outputs = expert->forward(std::vector{x});
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].shape(), (Shape{5, kHidden}));
}

TEST(FfnExpert, HasTheLocalLayersBlockParameters) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, param] : make_ffn(1)->named_parameters()) shapes[name] = param.shape();
  EXPECT_EQ(shapes, (std::map<std::string, Shape>{{"ffn.up.weight", Shape{16, 4}},
                                                  {"ffn.up.bias", Shape{16}},
                                                  {"ffn.down.weight", Shape{4, 16}},
                                                  {"ffn.down.bias", Shape{4}},
                                                  {"ffn.norm.weight", Shape{4}},
                                                  {"ffn.norm.bias", Shape{4}}}));
}

TEST(FfnExpert, ComputesWhatTheLocalLayersBlockComputes) {
  Generator generator(9);
  nn::FeedForwardExpert local(kHidden, generator);
  const Tensor x = random_tensor(Shape{3, kHidden}, 4);
  expect_close(make_ffn(9)->forward(std::vector{x})[0], local.forward(x), 0.0, 0.0);
}

TEST(FfnExpert, BackwardGivesFiniteDifferenceInputGradients) {
  ExpertBackend backend = make_backend({.type = OptimizerType::kNone});
  const std::vector<Tensor> inputs = {random_tensor(Shape{3, kHidden}, 5)};
  const std::vector<Tensor> probes = {random_tensor(Shape{3, kHidden}, 6)};
  const std::vector<Tensor> grads = backend.backward(inputs, probes).value();
  ASSERT_EQ(grads.size(), 1u);
  testing::expect_input_gradient_matches(backend, inputs, 0, probes, grads[0]);
}

TEST(FfnExpert, BackwardTakesOneSgdStepByTheUpdateRule) {
  constexpr float kLr = 0.1f;
  ExpertBackend backend = make_backend({.type = OptimizerType::kSgd, .lr = kLr}, 3);
  const Tensor x = random_tensor(Shape{6, kHidden}, 7);
  const Tensor grad_output = random_tensor(Shape{6, kHidden}, 8);

  // The oracle: the same expert, its gradients from autograd, then p - lr * grad.
  auto reference = make_ffn(3);
  const Tensor x_leaf = x.clone().set_requires_grad(RequiresGrad::kYes);
  reference->forward(std::vector{x_leaf})[0].backward(grad_output);
  std::map<std::string, std::vector<float>> expected;
  for (const auto& [name, param] : reference->named_parameters()) {
    std::vector<float> values = param.to_vector<float>();
    const std::vector<float> grad = param.grad().to_vector<float>();
    for (size_t i = 0; i < values.size(); ++i) values[i] -= kLr * grad[i];
    expected[name] = values;
  }

  const std::vector<Tensor> grads =
      backend.backward(std::vector{x}, std::vector{grad_output}).value();
  expect_close(grads[0], x_leaf.grad(), 0.0, 0.0);
  for (const auto& [name, param] : backend.module().named_parameters()) {
    SCOPED_TRACE(name);
    expect_close(param, expected.at(name), 1e-7, 0.0);
    EXPECT_FALSE(param.grad().defined()) << "the step drops the gradients";
  }
  EXPECT_EQ(backend.optimizer().steps_taken(), 1);
}

}  // namespace
}  // namespace hive::moe
