// The det_dropout expert: the mask decides everything random about it, so forward is a
// function of (x, mask), dropped elements of x do not matter, and backward drops the same ones.
#include "moe/experts/det_dropout_expert.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "backend_gradient_check.h"
#include "moe/server/expert_backend.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::random_tensor;

constexpr int64_t kHidden = 3;
constexpr int64_t kRows = 2;

// Drops elements 1 and 5 of the [2, 3] batch.
Tensor fixed_mask() {
  return Tensor::from_vector(std::vector<float>{1, 0, 1, 1, 1, 0}, Shape{kRows, kHidden});
}

std::unique_ptr<DetDropoutExpert> make_expert(float drop_probability = 0.2f) {
  Generator generator(4);
  return std::make_unique<DetDropoutExpert>(kHidden, drop_probability, generator);
}

ExpertBackend make_backend() {
  return ExpertBackend(ExpertUid::parse("det_dropout.0.1").value(), make_expert(),
                       {.optimizer = {.type = OptimizerType::kNone}});
}

TEST(DetDropoutExpert, TakesInputsAndMasksOfTheHiddenSize) {
  EXPECT_EQ(make_expert()->schema(),
            (ExpertSchema{.inputs = {{DType::kF32, Shape{kHidden}}, {DType::kF32, Shape{kHidden}}},
                          .outputs = {{DType::kF32, Shape{kHidden}}}}));
}

TEST(DetDropoutExpert, SameInputAndMaskGiveTheSameOutput) {
  auto expert = make_expert();
  const std::vector<Tensor> inputs = {random_tensor(Shape{kRows, kHidden}, 1), fixed_mask()};
  expect_close(expert->forward(inputs)[0], expert->forward(inputs)[0], 0.0, 0.0);
}

TEST(DetDropoutExpert, DroppedElementsDoNotAffectTheOutput) {
  auto expert = make_expert();
  const Tensor x = random_tensor(Shape{kRows, kHidden}, 1);
  Tensor changed = x.clone();
  changed.data<float>()[1] = 100.0f;  // both dropped by the mask
  changed.data<float>()[5] = -7.0f;
  expect_close(expert->forward(std::vector{changed, fixed_mask()})[0],
               expert->forward(std::vector{x, fixed_mask()})[0], 0.0, 0.0);
}

TEST(DetDropoutExpert, KeptElementsAreScaledByTheInverseKeepProbability) {
  // With every element kept, dropout only divides x by 1 - p.
  auto expert = make_expert(0.5f);
  const Tensor x = random_tensor(Shape{kRows, kHidden}, 2);
  const Tensor ones = Tensor::ones(Shape{kRows, kHidden});
  std::vector<float> doubled_values = x.to_vector<float>();
  for (float& value : doubled_values) value *= 2.0f;
  const Tensor doubled = Tensor::from_vector(doubled_values, Shape{kRows, kHidden});
  auto no_dropout = make_expert(0.0f);
  expect_close(expert->forward(std::vector{x, ones})[0],
               no_dropout->forward(std::vector{doubled, ones})[0], 1e-6, 0.0);
}

TEST(DetDropoutExpert, BackwardDropsWhatForwardDroppedAndGivesTheMaskNoGradient) {
  ExpertBackend backend = make_backend();
  const std::vector<Tensor> inputs = {random_tensor(Shape{kRows, kHidden}, 3), fixed_mask()};
  const std::vector<Tensor> probes = {random_tensor(Shape{kRows, kHidden}, 4)};
  const std::vector<Tensor> grads = backend.backward(inputs, probes).value();
  ASSERT_EQ(grads.size(), 2u);
  const std::vector<float> grad_x = grads[0].to_vector<float>();
  EXPECT_EQ(grad_x[1], 0.0f);
  EXPECT_EQ(grad_x[5], 0.0f);
  expect_close(grads[1], Tensor::zeros(Shape{kRows, kHidden}), 0.0, 0.0);
  testing::expect_input_gradient_matches(backend, inputs, 0, probes, grads[0]);
}

}  // namespace
}  // namespace hive::moe
