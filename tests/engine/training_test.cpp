// End to end: an MLP with a Mixture-of-Experts layer learns a small synthetic classification task.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "engine/nn/ffn_expert.h"
#include "engine/nn/mixture_of_experts.h"
#include "engine/nn/metrics.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr int64_t kFeatures = 16;
constexpr int64_t kClasses = 3;
constexpr int64_t kSamples = 256;
constexpr int64_t kHidden = 8;

struct Blobs {
  Tensor inputs;  // [kSamples, kFeatures]
  Tensor labels;  // i64 [kSamples]
};

// Three Gaussian blobs: sample i belongs to class i % 3 and is its class's center plus unit noise.
Blobs make_blobs() {
  Generator generator(1);
  const std::vector<float> centers =
      Tensor::randn(Shape{kClasses, kFeatures}, generator).to_vector<float>();
  std::vector<float> inputs = Tensor::randn(Shape{kSamples, kFeatures}, generator).to_vector<float>();
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < kSamples; ++i) {
    const int64_t label = i % kClasses;
    labels.push_back(label);
    for (int64_t f = 0; f < kFeatures; ++f) {
      inputs[static_cast<size_t>(i * kFeatures + f)] += 1.5f * centers[static_cast<size_t>(label * kFeatures + f)];
    }
  }
  return {Tensor::from_vector(inputs, Shape{kSamples, kFeatures}),
          Tensor::from_vector(labels, Shape{kSamples})};
}

// Linear(16, 8) -> GELU -> MixtureOfExperts(grid {2, 2}, k = 2, ffn experts) -> Linear(8, 3).
std::shared_ptr<nn::Sequential> make_model() {
  Generator generator(2);
  auto model = std::make_shared<nn::Sequential>();
  model->add(std::make_shared<nn::Linear>(kFeatures, kHidden, generator))
      .add(std::make_shared<nn::GELU>())
      .add(std::make_shared<nn::MixtureOfExperts>(
          nn::MoeConfig{kHidden, {2, 2}, 2},
          [](int64_t, Generator& g) { return std::make_shared<nn::FeedForwardExpert>(kHidden, g); },
          generator))
      .add(std::make_shared<nn::Linear>(kHidden, kClasses, generator));
  return model;
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  return static_cast<double>(nn::count_correct(logits, labels)) / static_cast<double>(labels.numel());
}

TEST(Training, MixtureOfExpertsMlpLearnsGaussianBlobs) {
  const Blobs blobs = make_blobs();
  const auto model = make_model();
  optim::AdamW optimizer(model->named_parameters(), {.lr = 0.01f, .weight_decay = 0.01f});

  float initial_loss = 0.0f;
  float final_loss = 0.0f;
  for (int step = 0; step < 60; ++step) {
    optimizer.zero_grad();
    const Tensor loss = cross_entropy(model->forward(blobs.inputs), blobs.labels);
    if (step == 0) initial_loss = loss.item<float>();
    final_loss = loss.item<float>();
    loss.backward();
    optimizer.step();
  }
  NoGradGuard no_grad;
  EXPECT_LT(final_loss, 0.5f * initial_loss) << "initial loss " << initial_loss;
  EXPECT_GT(accuracy(model->forward(blobs.inputs), blobs.labels), 0.9);
}

double l2_norm(const Tensor& x) { return std::sqrt(static_cast<double>(sum(square(x)).item<float>())); }

// Mixed precision: bf16 inputs make every layer compute in bf16 against f32 master parameters.
// The gradients reach the parameters in f32 and agree with the f32 model's to bf16 rounding, and
// the same training converges as well.
TEST(Training, Bf16ComputeWithF32MasterWeightsMatchesF32) {
  const Blobs blobs = make_blobs();
  const auto reference = make_model();
  const auto mixed = make_model();
  cross_entropy(reference->forward(blobs.inputs), blobs.labels).backward();
  cross_entropy(mixed->forward(blobs.inputs.to(DType::kBF16)), blobs.labels).backward();
  const std::vector<Tensor> expected = reference->parameters();
  const std::vector<Tensor> actual = mixed->parameters();
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_EQ(actual[i].dtype(), DType::kF32);
    // An expert no row chose has no gradient in either model.
    ASSERT_EQ(actual[i].grad().defined(), expected[i].grad().defined()) << "parameter " << i;
    if (!expected[i].grad().defined()) continue;
    ASSERT_EQ(actual[i].grad().dtype(), DType::kF32) << "parameter " << i;
    const double error = l2_norm(sub(actual[i].grad(), expected[i].grad()));
    EXPECT_LE(error, 5e-2 * l2_norm(expected[i].grad())) << "parameter " << i;
  }

  mixed->zero_grad();
  optim::AdamW optimizer(mixed->named_parameters(), {.lr = 0.01f, .weight_decay = 0.01f});
  for (int step = 0; step < 60; ++step) {
    optimizer.zero_grad();
    cross_entropy(mixed->forward(blobs.inputs.to(DType::kBF16)), blobs.labels).backward();
    optimizer.step();
  }
  NoGradGuard no_grad;
  EXPECT_GT(accuracy(mixed->forward(blobs.inputs.to(DType::kBF16)), blobs.labels), 0.9);
}

}  // namespace
}  // namespace hive
