// Optimizers against double-precision references of PyTorch's formulas, their state round trip,
// gradient clipping and the learning-rate schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/optim/adam.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/sgd.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr int64_t kSize = 6;
constexpr uint64_t kInitialSeed = 1;  // the parameter's starting values in the reference tests

std::vector<double> to_double(const Tensor& t) {
  const std::vector<float> values = t.to_vector<float>();
  return {values.begin(), values.end()};
}

// A fixed gradient for each step; magnitudes shrink so that AMSGrad's running maximum matters.
std::vector<Tensor> fixed_gradients(int steps, uint64_t seed) {
  Generator generator(seed);
  std::vector<Tensor> grads;
  float scale = 1.0f;
  for (int step = 0; step < steps; ++step, scale *= 0.3f) {
    Tensor grad = Tensor::randn(Shape{kSize}, generator);
    float* data = grad.data<float>();
    for (int64_t i = 0; i < kSize; ++i) data[i] *= scale;
    grads.push_back(grad);
  }
  return grads;
}

void expect_relatively_close(const Tensor& actual, const std::vector<double>& expected,
                             double rtol) {
  const std::vector<float> values = actual.to_vector<float>();
  ASSERT_EQ(values.size(), expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(values[i], expected[i], rtol * std::max(std::abs(expected[i]), 1e-3))
        << "element " << i;
  }
}

void expect_bit_equal(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  ASSERT_EQ(actual.dtype(), expected.dtype());
  EXPECT_EQ(std::memcmp(actual.raw_data(), expected.raw_data(), actual.nbytes()), 0);
}

// torch.optim.SGD's update, in double.
std::vector<double> sgd_reference(std::vector<double> param, const std::vector<Tensor>& grads,
                                  const optim::SgdOptions& options) {
  std::vector<double> buffer(param.size(), 0.0);
  for (size_t step = 0; step < grads.size(); ++step) {
    const std::vector<double> grad = to_double(grads[step]);
    for (size_t i = 0; i < param.size(); ++i) {
      double d = grad[i] + options.weight_decay * param[i];
      if (options.momentum > 0.0f) {
        buffer[i] = step == 0 ? d : options.momentum * buffer[i] + (1.0 - options.dampening) * d;
        d = options.nesterov == optim::Nesterov::kYes ? d + options.momentum * buffer[i] : buffer[i];
      }
      param[i] -= options.lr * d;
    }
  }
  return param;
}

// torch.optim.Adam / AdamW's update, in double.
std::vector<double> adam_reference(std::vector<double> param, const std::vector<Tensor>& grads,
                                   const optim::AdamOptions& options) {
  std::vector<double> m(param.size(), 0.0);
  std::vector<double> v(param.size(), 0.0);
  std::vector<double> v_max(param.size(), 0.0);
  const double beta1 = options.beta1;
  const double beta2 = options.beta2;
  for (size_t step = 1; step <= grads.size(); ++step) {
    const std::vector<double> grad = to_double(grads[step - 1]);
    const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
    for (size_t i = 0; i < param.size(); ++i) {
      double g = grad[i];
      if (options.weight_decay_mode == optim::WeightDecayMode::kDecoupled) {
        param[i] *= 1.0 - static_cast<double>(options.lr) * options.weight_decay;
      } else {
        g += options.weight_decay * param[i];
      }
      m[i] = beta1 * m[i] + (1.0 - beta1) * g;
      v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
      v_max[i] = std::max(v_max[i], v[i]);
      const double second = options.amsgrad == optim::AmsGrad::kYes ? v_max[i] : v[i];
      const double denominator = std::sqrt(second) / std::sqrt(bias_correction2) + options.eps;
      param[i] -= options.lr / bias_correction1 * m[i] / denominator;
    }
  }
  return param;
}

template <typename MakeOptimizer>
Tensor run_steps(const MakeOptimizer& make_optimizer, const std::vector<Tensor>& grads) {
  const Tensor param = testing::random_parameter(Shape{kSize}, kInitialSeed);
  auto optimizer = make_optimizer(nn::NamedTensors{{"w", param}});
  for (const Tensor& grad : grads) {
    param.set_grad(grad.clone());
    optimizer.step();
  }
  return param;
}

std::vector<double> initial_param() {
  return to_double(testing::random_parameter(Shape{kSize}, kInitialSeed));
}

void expect_sgd_matches_reference(const optim::SgdOptions& options) {
  const std::vector<Tensor> grads = fixed_gradients(3, 2);
  const Tensor param = run_steps(
      [&](nn::NamedTensors params) { return optim::Sgd(std::move(params), options); }, grads);
  expect_relatively_close(param, sgd_reference(initial_param(), grads, options), 1e-6);
}

void expect_adam_matches_reference(const optim::AdamOptions& options) {
  const std::vector<Tensor> grads = fixed_gradients(5, 3);
  const Tensor param = run_steps(
      [&](nn::NamedTensors params) { return optim::Adam(std::move(params), options); }, grads);
  expect_relatively_close(param, adam_reference(initial_param(), grads, options), 1e-6);
}

TEST(Sgd, PlainMatchesReference) { expect_sgd_matches_reference({.lr = 0.1f}); }

TEST(Sgd, MomentumStartsFromGradientAndMatchesReference) {
  expect_sgd_matches_reference({.lr = 0.1f, .momentum = 0.9f});
}

TEST(Sgd, DampeningMatchesReference) {
  expect_sgd_matches_reference({.lr = 0.1f, .momentum = 0.9f, .dampening = 0.3f});
}

TEST(Sgd, NesterovMatchesReference) {
  expect_sgd_matches_reference({.lr = 0.1f, .momentum = 0.8f, .nesterov = optim::Nesterov::kYes});
}

TEST(Sgd, WeightDecayMatchesReference) {
  expect_sgd_matches_reference({.lr = 0.1f, .momentum = 0.5f, .weight_decay = 0.2f});
}

TEST(Adam, MatchesReference) {
  expect_adam_matches_reference({.lr = 0.1f, .beta1 = 0.8f, .beta2 = 0.9f});
}

TEST(Adam, L2WeightDecayMatchesReference) {
  expect_adam_matches_reference({.lr = 0.1f, .beta1 = 0.8f, .beta2 = 0.9f, .weight_decay = 0.1f});
}

TEST(Adam, AmsGradMatchesReference) {
  expect_adam_matches_reference(
      {.lr = 0.1f, .beta1 = 0.8f, .beta2 = 0.9f, .amsgrad = optim::AmsGrad::kYes});
}

TEST(AdamW, DecoupledWeightDecayMatchesReference) {
  optim::AdamOptions options{.lr = 0.1f, .beta1 = 0.8f, .beta2 = 0.9f, .weight_decay = 0.1f};
  const std::vector<Tensor> grads = fixed_gradients(5, 4);
  const Tensor param = run_steps(
      [&](nn::NamedTensors params) { return optim::AdamW(std::move(params), options); }, grads);
  options.weight_decay_mode = optim::WeightDecayMode::kDecoupled;
  expect_relatively_close(param, adam_reference(initial_param(), grads, options), 1e-6);
}

TEST(Adam, ParameterWithoutGradientIsSkippedAndKeepsItsStepCount) {
  const Tensor a = testing::random_parameter(Shape{kSize}, 5);
  const Tensor b = testing::random_parameter(Shape{kSize}, 6);
  optim::Adam adam({{"a", a}, {"b", b}}, {.lr = 0.1f});
  const std::vector<Tensor> grads = fixed_gradients(2, 7);
  a.set_grad(grads[0].clone());
  b.set_grad(grads[0].clone());
  adam.step();
  const Tensor b_after_first_step = b.clone();
  a.set_grad(grads[1].clone());
  b.zero_grad();
  adam.step();

  std::map<std::string, int64_t> steps;
  for (const auto& [name, value] : adam.state()) {
    if (name.ends_with(".step")) steps[name] = value.item<int64_t>();
  }
  EXPECT_EQ(steps, (std::map<std::string, int64_t>{{"a.step", 2}, {"b.step", 1}}));
  expect_bit_equal(b, b_after_first_step);
}

TEST(Adam, StateRoundTripReproducesLaterUpdates) {
  const optim::AdamOptions options{.lr = 0.05f, .amsgrad = optim::AmsGrad::kYes};
  const std::vector<Tensor> grads = fixed_gradients(4, 8);
  const Tensor original = testing::random_parameter(Shape{kSize}, 9);
  optim::Adam first({{"w", original}}, options);
  for (int step = 0; step < 2; ++step) {
    original.set_grad(grads[static_cast<size_t>(step)].clone());
    first.step();
  }
  std::map<std::string, Tensor> saved;
  for (const auto& [name, value] : first.state()) saved[name] = value.clone();
  const Tensor restored = original.detach().clone().set_requires_grad(RequiresGrad::kYes);
  optim::Adam second({{"w", restored}}, options);
  second.load_state(saved);

  for (int step = 2; step < 4; ++step) {
    original.set_grad(grads[static_cast<size_t>(step)].clone());
    restored.set_grad(grads[static_cast<size_t>(step)].clone());
    first.step();
    second.step();
  }
  expect_bit_equal(restored, original);
}

TEST(Sgd, StateRoundTripReproducesLaterUpdates) {
  const optim::SgdOptions options{.lr = 0.1f, .momentum = 0.9f};
  const std::vector<Tensor> grads = fixed_gradients(3, 10);
  const Tensor original = testing::random_parameter(Shape{kSize}, 11);
  optim::Sgd first({{"w", original}}, options);
  original.set_grad(grads[0].clone());
  first.step();
  std::map<std::string, Tensor> saved;
  for (const auto& [name, value] : first.state()) saved[name] = value.clone();
  const Tensor restored = original.detach().clone().set_requires_grad(RequiresGrad::kYes);
  optim::Sgd second({{"w", restored}}, options);
  second.load_state(saved);

  for (int step = 1; step < 3; ++step) {
    original.set_grad(grads[static_cast<size_t>(step)].clone());
    restored.set_grad(grads[static_cast<size_t>(step)].clone());
    first.step();
    second.step();
  }
  expect_bit_equal(restored, original);
}

TEST(Adam, LoadStateRejectsUnknownName) {
  optim::Adam adam({{"w", testing::random_parameter(Shape{kSize}, 12)}}, {});
  std::map<std::string, Tensor> state;
  for (const auto& [name, value] : adam.state()) state[name] = value;
  state["v.exp_avg"] = Tensor::zeros(Shape{kSize});
  EXPECT_TRUE(testing::throws_error([&] { adam.load_state(state); }, {"Adam", "'v.exp_avg'"}));
}

TEST(Adam, LoadStateRejectsWrongShape) {
  optim::Adam adam({{"w", testing::random_parameter(Shape{kSize}, 13)}}, {});
  std::map<std::string, Tensor> state;
  for (const auto& [name, value] : adam.state()) state[name] = value;
  state["w.exp_avg_sq"] = Tensor::zeros(Shape{2, 3});
  EXPECT_TRUE(testing::throws_error([&] { adam.load_state(state); },
                                    {"Adam", "'w.exp_avg_sq'", "[2, 3]", "[6]"}));
}

TEST(Adam, RefusedLoadStateChangesNothing) {
  // The second parameter's state is missing, after the first one's was found valid.
  const Tensor a = testing::random_parameter(Shape{kSize}, 16);
  const Tensor b = testing::random_parameter(Shape{kSize}, 17);
  optim::Adam adam({{"a", a}, {"b", b}}, {});
  std::map<std::string, Tensor> state;
  for (const auto& [name, value] : adam.state()) state[name] = Tensor::full(value.shape(), 1.0, value.dtype());
  state.erase("b.exp_avg_sq");
  EXPECT_TRUE(testing::throws_error([&] { adam.load_state(state); }, {"Adam", "'b.exp_avg_sq'"}));
  for (const auto& [name, value] : adam.state()) {
    EXPECT_EQ(value.to_vector<float>(), std::vector<float>(static_cast<size_t>(value.numel()), 0.0f))
        << name;
  }
}

TEST(Sgd, LoadStateRejectsUnknownNameAndWrongShape) {
  optim::Sgd sgd({{"w", testing::random_parameter(Shape{kSize}, 14)}}, {.momentum = 0.9f});
  EXPECT_TRUE(testing::throws_error(
      [&] { sgd.load_state({{"v.momentum_buffer", Tensor::zeros(Shape{kSize})}}); },
      {"SGD", "'v.momentum_buffer'"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { sgd.load_state({{"w.momentum_buffer", Tensor::zeros(Shape{3})}}); },
      {"SGD", "'w.momentum_buffer'", "[3]"}));
}

TEST(ClipGradNorm, ScalesToMaxNormAndReturnsNormBeforeClipping) {
  // Gradients (3, 4) and (12): joint norm 13.
  const Tensor a = testing::parameter({0.0f, 0.0f}, Shape{2});
  const Tensor b = testing::parameter({0.0f}, Shape{1});
  a.set_grad(Tensor::from_vector(std::vector<float>{3.0f, 4.0f}, Shape{2}));
  b.set_grad(Tensor::from_vector(std::vector<float>{12.0f}, Shape{1}));
  const std::vector<Tensor> params{a, b};
  EXPECT_FLOAT_EQ(optim::clip_grad_norm(params, 6.5f), 13.0f);
  testing::expect_close(a.grad(), {1.5f, 2.0f}, 1e-6, 1e-6);
  testing::expect_close(b.grad(), {6.0f}, 1e-6, 1e-6);
}

TEST(ClipGradNorm, LeavesGradientsUnderMaxNormAlone) {
  const Tensor a = testing::parameter({0.0f, 0.0f}, Shape{2});
  a.set_grad(Tensor::from_vector(std::vector<float>{3.0f, 4.0f}, Shape{2}));
  const std::vector<Tensor> params{a};
  EXPECT_FLOAT_EQ(optim::clip_grad_norm(params, 20.0f), 5.0f);
  testing::expect_close(a.grad(), {3.0f, 4.0f}, 0.0, 0.0);
}

TEST(LinearWarmupDecay, WarmsUpThenDecaysToFinalValue) {
  const optim::LinearWarmupDecay schedule(1.0f, 10, 110, 0.1f);
  EXPECT_FLOAT_EQ(schedule.lr_at(0), 0.1f);   // first warmup step: peak / warmup
  EXPECT_FLOAT_EQ(schedule.lr_at(9), 1.0f);   // last warmup step reaches the peak
  EXPECT_FLOAT_EQ(schedule.lr_at(10), 1.0f);  // decay starts at the peak
  EXPECT_FLOAT_EQ(schedule.lr_at(60), 0.55f);
  EXPECT_FLOAT_EQ(schedule.lr_at(110), 0.1f);
  EXPECT_FLOAT_EQ(schedule.lr_at(1000), 0.1f);
}

TEST(Optimizers, InvalidHyperparametersThrow) {
  const nn::NamedTensors params{{"w", testing::random_parameter(Shape{kSize}, 15)}};
  EXPECT_TRUE(testing::throws_error([&] { optim::Adam(params, {.beta1 = 1.0f}); }, {"betas"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::Adam(params, {.beta2 = -0.1f}); }, {"betas"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::Adam(params, {.eps = 0.0f}); }, {"eps"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::Adam(params, {.weight_decay = -1.0f}); },
                                    {"weight decay"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::AdamW(params, {.lr = -0.1f}); },
                                    {"learning rate"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::Sgd(params, {.lr = NAN}); }, {"learning rate"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::Sgd(params, {.momentum = -0.5f}); },
                                    {"momentum"}));
  EXPECT_TRUE(testing::throws_error([&] { optim::Sgd(params, {.nesterov = optim::Nesterov::kYes}); },
                                    {"Nesterov"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { optim::Sgd(params, {.momentum = 0.9f, .dampening = 0.1f, .nesterov = optim::Nesterov::kYes}); },
      {"Nesterov"}));
  EXPECT_TRUE(testing::throws_error([] { optim::LinearWarmupDecay(1.0f, 20, 10); },
                                    {"warmup steps 20"}));
  EXPECT_TRUE(testing::throws_error([] { optim::LinearWarmupDecay(-1.0f, 0, 10); },
                                    {"non-negative"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)optim::clip_grad_norm(std::vector<Tensor>{params[0].second}, 0.0f); },
      {"max_norm"}));
}

}  // namespace
}  // namespace hive
