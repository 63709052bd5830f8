// Training on the GPU against the CPU: optimizer updates (Adam, AdamW, AMSGrad, SGD with
// momentum and Nesterov) over few and many parameters, a small MLP trained for a few steps, and
// the local Mixture-of-Experts layer forward and backward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/ffn_expert.h"
#include "engine/nn/layers.h"
#include "engine/nn/mixture_of_experts.h"
#include "engine/ops/softmax.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_equal_indices;
using testing::expect_relative_close;
using testing::random_input;

// Composite models chain many kernels; their f32 rounding differences add up beyond a single
// kernel's 1e-5.
constexpr double kModelTolerance = 1e-4;

using OptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(nn::NamedTensors)>;

struct OptimizerCase {
  const char* name;
  OptimizerFactory make;
};

std::vector<OptimizerCase> optimizer_cases() {
  return {
      {"Adam with L2 decay",
       [](nn::NamedTensors params) {
         return std::make_unique<optim::Adam>(std::move(params),
                                              optim::AdamOptions{.lr = 1e-2f, .weight_decay = 0.01f});
       }},
      {"AdamW",
       [](nn::NamedTensors params) {
         return std::make_unique<optim::AdamW>(std::move(params),
                                               optim::AdamOptions{.lr = 1e-2f, .weight_decay = 0.1f});
       }},
      {"AMSGrad",
       [](nn::NamedTensors params) {
         return std::make_unique<optim::Adam>(
             std::move(params), optim::AdamOptions{.lr = 1e-2f, .amsgrad = optim::AmsGrad::kYes});
       }},
      {"SGD with momentum and dampening",
       [](nn::NamedTensors params) {
         return std::make_unique<optim::Sgd>(
             std::move(params),
             optim::SgdOptions{.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 0.01f});
       }},
      {"SGD with Nesterov momentum",
       [](nn::NamedTensors params) {
         return std::make_unique<optim::Sgd>(
             std::move(params),
             optim::SgdOptions{.lr = 0.1f, .momentum = 0.9f, .nesterov = optim::Nesterov::kYes});
       }},
      {"plain SGD",
       [](nn::NamedTensors params) {
         return std::make_unique<optim::Sgd>(std::move(params), optim::SgdOptions{.lr = 0.1f});
       }},
  };
}

// The parameters, back on the CPU, after one step per entry of `gradients` on copies of
// `initial` placed on `device`. gradients[step][i] undefined: parameter i has no gradient at that
// step (an expert that got no rows) and must be skipped.
std::vector<Tensor> optimize_on(Device device, const OptimizerFactory& make,
                                const std::vector<Tensor>& initial,
                                const std::vector<std::vector<Tensor>>& gradients) {
  nn::NamedTensors params;
  for (size_t i = 0; i < initial.size(); ++i) {
    const Tensor param = Tensor::empty(initial[i].shape(), DType::kF32, device);
    param.copy_from(initial[i]);
    param.set_requires_grad(RequiresGrad::kYes);
    params.emplace_back("param" + std::to_string(i), param);
  }
  const std::unique_ptr<optim::Optimizer> optimizer = make(params);
  for (const std::vector<Tensor>& step_gradients : gradients) {
    optimizer->zero_grad();
    for (size_t i = 0; i < params.size(); ++i) {
      if (step_gradients[i].defined()) params[i].second.set_grad(step_gradients[i].to(device));
    }
    optimizer->step();
  }
  std::vector<Tensor> result;
  for (const auto& [name, param] : params) result.push_back(param.detach().to(Device::cpu()));
  return result;
}

// The same parameters after the same steps on both devices, within f32 tolerance.
void expect_optimizers_agree(Device device, const std::vector<Tensor>& initial,
                             const std::vector<std::vector<Tensor>>& gradients) {
  for (const OptimizerCase& optimizer : optimizer_cases()) {
    SCOPED_TRACE(optimizer.name);
    const std::vector<Tensor> expected = optimize_on(Device::cpu(), optimizer.make, initial, gradients);
    const std::vector<Tensor> actual = optimize_on(device, optimizer.make, initial, gradients);
    for (size_t i = 0; i < initial.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "parameter " << i << " " << initial[i].shape());
      expect_relative_close(actual[i], expected[i], testing::kF32Tolerance);
    }
  }
}

// `rows` labels in [0, classes), i64, on the CPU.
Tensor random_labels(int64_t rows, int64_t classes, uint64_t seed) {
  Generator generator(seed);
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t& label : labels) {
    label = static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(classes)));
  }
  return Tensor::from_vector(labels, Shape{rows});
}

class TrainingKernelsTest : public testing::CudaTest {};

TEST_F(TrainingKernelsTest, OptimizersMatchCpuOverThreeSteps) {
  const Shape shapes[] = {Shape{1}, Shape{3, 5}, Shape{37, 129}, Shape{257, 1000}};
  std::vector<Tensor> initial;
  uint64_t seed = 1;
  for (const Shape& shape : shapes) initial.push_back(random_input(shape, seed++));
  std::vector<std::vector<Tensor>> gradients(3);
  for (std::vector<Tensor>& step_gradients : gradients) {
    for (const Shape& shape : shapes) step_gradients.push_back(random_input(shape, seed++, DType::kF32, 0.1f));
  }
  expect_optimizers_agree(gpu(), initial, gradients);
}

TEST_F(TrainingKernelsTest, ManyParametersInOneOptimizerMatchCpu) {
  // 60 parameters of odd sizes, more than fit in one launch's list of tensors if the kernel
  // chunks them. Every seventh has no gradient at the second step, so for Adam the parameters
  // then fall into two groups with different step counts (and bias corrections).
  constexpr int kParameters = 60;
  std::vector<Tensor> initial;
  uint64_t seed = 100;
  for (int i = 0; i < kParameters; ++i) {
    const int64_t rows = 1 + (i * 7) % 13;
    const int64_t cols = 1 + (i * 37) % 301;
    initial.push_back(random_input(Shape{rows, cols}, seed++));
  }
  std::vector<std::vector<Tensor>> gradients(3);
  for (size_t step = 0; step < gradients.size(); ++step) {
    for (size_t i = 0; i < initial.size(); ++i) {
      const bool skipped = step == 1 && i % 7 == 0;
      gradients[step].push_back(skipped ? Tensor()
                                        : random_input(initial[i].shape(), seed++, DType::kF32, 0.1f));
    }
  }
  expect_optimizers_agree(gpu(), initial, gradients);
}

TEST_F(TrainingKernelsTest, MlpTrainingLossesMatchCpu) {
  // Linear -> GELU -> Linear -> cross-entropy, trained with Adam from the same initial weights.
  static constexpr int64_t kInputs = 20;
  static constexpr int64_t kHidden = 37;
  static constexpr int64_t kClasses = 10;
  static constexpr int64_t kBatch = 64;
  static constexpr int kSteps = 5;
  const auto make_model = [] {
    Generator generator(5);
    auto model = std::make_shared<nn::Sequential>();
    model->add(std::make_shared<nn::Linear>(kInputs, kHidden, generator));
    model->add(std::make_shared<nn::GELU>());
    model->add(std::make_shared<nn::Linear>(kHidden, kClasses, generator));
    return model;
  };
  const Tensor x = random_input(Shape{kBatch, kInputs}, 6);
  const Tensor labels = random_labels(kBatch, kClasses, 7);
  // The losses of each step, for a model on `device`.
  const auto train_on = [&](Device device) {
    const std::shared_ptr<nn::Sequential> model = make_model();
    model->to(device);
    optim::Adam optimizer(model->named_parameters(), optim::AdamOptions{.lr = 1e-2f});
    const Tensor device_x = x.to(device);
    const Tensor device_labels = labels.to(device);
    std::vector<float> losses;
    for (int step = 0; step < kSteps; ++step) {
      optimizer.zero_grad();
      const Tensor loss = cross_entropy(model->forward(device_x), device_labels);
      loss.backward();
      optimizer.step();
      losses.push_back(loss.item<float>());
    }
    return losses;
  };
  const std::vector<float> expected = train_on(Device::cpu());
  const std::vector<float> actual = train_on(gpu());
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t step = 0; step < expected.size(); ++step) {
    EXPECT_NEAR(actual[step], expected[step], kModelTolerance * std::abs(expected[step]))
        << "step " << step;
  }
  EXPECT_LT(expected.back(), expected.front()) << "the reference did not train";
}

TEST_F(TrainingKernelsTest, MixtureOfExpertsMatchesCpuForwardAndBackward) {
  static constexpr int64_t kFeatures = 16;
  static constexpr int64_t kRows = 29;
  const auto make_layer = [] {
    Generator generator(11);
    return std::make_shared<nn::MixtureOfExperts>(
        nn::MoeConfig{.in_features = kFeatures, .grid = {3, 4}, .k = 2},
        [](int64_t, Generator& expert_generator) {
          return std::make_shared<nn::FeedForwardExpert>(kFeatures, expert_generator);
        },
        generator);
  };
  const std::shared_ptr<nn::MixtureOfExperts> cpu_layer = make_layer();
  const std::shared_ptr<nn::MixtureOfExperts> gpu_layer = make_layer();
  gpu_layer->to(gpu());
  const Tensor input = random_input(Shape{kRows, kFeatures}, 12);
  const Tensor probe = random_input(Shape{kRows, kFeatures}, 13);

  // Routing first: if the experts chosen differ, nothing after can agree.
  const nn::Routing cpu_routing = cpu_layer->route(input);
  const nn::Routing gpu_routing = gpu_layer->route(input.to(gpu()));
  expect_equal_indices(gpu_routing.expert_indices, cpu_routing.expert_indices);
  expect_relative_close(gpu_routing.weights, cpu_routing.weights, kModelTolerance);

  const Tensor cpu_x = input.clone().set_requires_grad(RequiresGrad::kYes);
  const Tensor gpu_x = input.to(gpu()).set_requires_grad(RequiresGrad::kYes);
  const Tensor cpu_out = cpu_layer->forward(cpu_x);
  const Tensor gpu_out = gpu_layer->forward(gpu_x);
  expect_relative_close(gpu_out, cpu_out, kModelTolerance);
  cpu_out.backward(probe);
  gpu_out.backward(probe.to(gpu()));
  {
    SCOPED_TRACE("gradient of the input");
    expect_relative_close(gpu_x.grad(), cpu_x.grad(), kModelTolerance);
  }
  const nn::NamedTensors cpu_params = cpu_layer->named_parameters();
  const nn::NamedTensors gpu_params = gpu_layer->named_parameters();
  ASSERT_EQ(gpu_params.size(), cpu_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    SCOPED_TRACE("gradient of " + cpu_params[i].first);
    const Tensor expected = cpu_params[i].second.grad();
    const Tensor actual = gpu_params[i].second.grad();
    // Experts that got no rows have no gradient on either device.
    ASSERT_EQ(actual.defined(), expected.defined());
    if (expected.defined()) expect_relative_close(actual, expected, kModelTolerance);
  }
}

}  // namespace
}  // namespace hive
