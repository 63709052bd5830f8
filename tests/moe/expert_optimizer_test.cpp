// The optimizer step a server takes after each backward batch: SGD and Adam by their update
// rules, the warmup and decay schedule, clipping, and "none".
#include "moe/server/expert_optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::parameter;
using hive::testing::throws_error;

// Runs `steps` steps of an optimizer over one parameter that starts at 0 and whose gradient is
// always 1: its value after each step is minus the sum of the learning rates so far.
std::vector<float> values_after_steps(const OptimizerConfig& config, int steps) {
  const Tensor param = parameter({0.0f}, Shape{1});
  ExpertOptimizer optimizer({{"w", param}}, config);
  std::vector<float> values;
  for (int step = 0; step < steps; ++step) {
    param.set_grad(Tensor::ones(Shape{1}));
    optimizer.step();
    values.push_back(param.item<float>());
  }
  return values;
}

TEST(ExpertOptimizer, SgdStepsByMinusLrTimesGradient) {
  const Tensor param = parameter({1.0f, -2.0f}, Shape{2});
  ExpertOptimizer optimizer({{"w", param}}, {.type = OptimizerType::kSgd, .lr = 0.5f});
  param.set_grad(Tensor::from_vector(std::vector<float>{0.25f, -1.0f}, Shape{2}));
  optimizer.step();
  expect_close(param, {1.0f - 0.5f * 0.25f, -2.0f + 0.5f}, 0.0, 0.0);
  EXPECT_FALSE(param.grad().defined()) << "the step drops the gradient";
  EXPECT_EQ(optimizer.steps_taken(), 1);
}

TEST(ExpertOptimizer, AdamFirstStepMovesEachParameterByLrAgainstItsGradientsSign) {
  // After bias correction Adam's first update is lr * g / (|g| + eps).
  const Tensor param = parameter({1.0f, 1.0f}, Shape{2});
  ExpertOptimizer optimizer({{"w", param}}, {.type = OptimizerType::kAdam, .lr = 0.01f});
  param.set_grad(Tensor::from_vector(std::vector<float>{3.0f, -0.5f}, Shape{2}));
  optimizer.step();
  expect_close(param, {1.0f - 0.01f, 1.0f + 0.01f}, 1e-6, 0.0);
}

TEST(ExpertOptimizer, WarmupRaisesTheLearningRateLinearlyThenHoldsIt) {
  const std::vector<float> values =
      values_after_steps({.type = OptimizerType::kSgd, .lr = 0.4f, .warmup_steps = 4}, 6);
  // Learning rates 0.1, 0.2, 0.3, 0.4, 0.4, 0.4.
  expect_close(Tensor::from_vector(values, Shape{6}), {-0.1f, -0.3f, -0.6f, -1.0f, -1.4f, -1.8f},
               1e-6, 0.0);
}

TEST(ExpertOptimizer, TotalStepsDecayTheLearningRateToZero) {
  const std::vector<float> values = values_after_steps(
      {.type = OptimizerType::kSgd, .lr = 0.4f, .warmup_steps = 2, .total_steps = 4}, 6);
  // Learning rates 0.2, 0.4 (warmup), 0.4, 0.2 (decay), then 0.
  expect_close(Tensor::from_vector(values, Shape{6}), {-0.2f, -0.6f, -1.0f, -1.2f, -1.2f, -1.2f},
               1e-6, 0.0);
}

TEST(ExpertOptimizer, NextLrFollowsTheSchedule) {
  const Tensor param = parameter({0.0f}, Shape{1});
  ExpertOptimizer optimizer({{"w", param}},
                            {.type = OptimizerType::kSgd, .lr = 1.0f, .warmup_steps = 2});
  EXPECT_FLOAT_EQ(optimizer.next_lr(), 0.5f);
  optimizer.step();
  EXPECT_FLOAT_EQ(optimizer.next_lr(), 1.0f);
}

TEST(ExpertOptimizer, ClippingScalesTheGlobalGradientNormToTheLimit) {
  const Tensor a = parameter({0.0f}, Shape{1});
  const Tensor b = parameter({0.0f}, Shape{1});
  ExpertOptimizer optimizer({{"a", a}, {"b", b}},
                            {.type = OptimizerType::kSgd, .lr = 1.0f, .max_grad_norm = 1.0f});
  a.set_grad(Tensor::full(Shape{1}, 3.0));  // global norm 5
  b.set_grad(Tensor::full(Shape{1}, 4.0));
  optimizer.step();
  expect_close(a, {-0.6f}, 1e-6, 0.0);
  expect_close(b, {-0.8f}, 1e-6, 0.0);
}

TEST(ExpertOptimizer, NoneLeavesParametersAloneAndDropsGradients) {
  const Tensor param = parameter({1.0f}, Shape{1});
  ExpertOptimizer optimizer({{"w", param}}, {.type = OptimizerType::kNone});
  param.set_grad(Tensor::ones(Shape{1}));
  optimizer.step();
  expect_close(param, {1.0f}, 0.0, 0.0);
  EXPECT_FALSE(param.grad().defined());
}

TEST(ExpertOptimizer, RestoredStateResumesTheScheduleAndTheMoments) {
  const OptimizerConfig config = {.type = OptimizerType::kAdam, .lr = 1.0f, .warmup_steps = 4};
  const Tensor trained = parameter({0.0f}, Shape{1});
  ExpertOptimizer original({{"w", trained}}, config);
  for (int step = 0; step < 2; ++step) {
    trained.set_grad(Tensor::ones(Shape{1}));
    original.step();
  }
  std::map<std::string, Tensor> state;
  for (const auto& [name, tensor] : original.state()) state[name] = tensor.clone();

  const Tensor copy = parameter({trained.item<float>()}, Shape{1});
  ExpertOptimizer restored({{"w", copy}}, config);
  restored.restore(state, original.steps_taken());
  EXPECT_EQ(restored.steps_taken(), 2);
  EXPECT_FLOAT_EQ(restored.next_lr(), 0.75f);
  for (const Tensor& param : {trained, copy}) param.set_grad(Tensor::full(Shape{1}, 0.5));
  original.step();
  restored.step();
  expect_close(copy, trained, 0.0, 0.0);
}

TEST(ExpertOptimizer, RestoreRefusesWhatIsNotItsOwnAndChangesNothing) {
  const Tensor param = parameter({0.0f}, Shape{1});
  ExpertOptimizer adam({{"w", param}}, {.type = OptimizerType::kAdam});
  EXPECT_TRUE(throws_error([&] { adam.restore({}, 3); }, {"Adam: state 'w.exp_avg' is missing"}));
  EXPECT_TRUE(throws_error([&] { adam.restore({}, -1); }, {"steps taken -1"}));
  ExpertOptimizer none({{"w", param}}, {.type = OptimizerType::kNone});
  EXPECT_TRUE(throws_error([&] { none.restore({{"w.exp_avg", Tensor::zeros(Shape{1})}}, 3); },
                           {"state 'w.exp_avg' given to an expert that takes no optimizer steps"}));
  EXPECT_EQ(adam.steps_taken(), 0);
  EXPECT_EQ(none.steps_taken(), 0);
  EXPECT_TRUE(none.state().empty());
}

TEST(ExpertOptimizer, RefusesUnusableSettings) {
  const Tensor param = parameter({0.0f}, Shape{1});
  const auto build = [&](const OptimizerConfig& config) {
    return [&param, config] { ExpertOptimizer optimizer({{"w", param}}, config); };
  };
  EXPECT_TRUE(throws_error(build({.lr = -1.0f}), {"learning rate -1", "non-negative"}));
  EXPECT_TRUE(throws_error(build({.lr = NAN}), {"learning rate nan"}));
  EXPECT_TRUE(throws_error(build({.warmup_steps = -2}), {"warmup steps -2"}));
  EXPECT_TRUE(throws_error(build({.warmup_steps = 10, .total_steps = 5}),
                           {"total steps 5 must be at least the warmup steps 10"}));
  EXPECT_TRUE(throws_error(build({.max_grad_norm = 0.0f}),
                           {"max gradient norm 0 must be finite and positive"}));
}

}  // namespace
}  // namespace hive::moe
