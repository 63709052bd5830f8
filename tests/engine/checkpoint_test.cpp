// Training checkpoints: model + optimizer round trips, resumed training, and refused mismatches.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/checkpoint.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "test_util.h"

namespace hive {
namespace {

// Linear(4, hidden) -> GELU -> Linear(hidden, 3).
std::shared_ptr<nn::Sequential> make_model(uint64_t seed, int64_t hidden = 8) {
  Generator generator(seed);
  auto model = std::make_shared<nn::Sequential>();
  model->add(std::make_shared<nn::Linear>(4, hidden, generator))
      .add(std::make_shared<nn::GELU>())
      .add(std::make_shared<nn::Linear>(hidden, 3, generator));
  return model;
}

optim::Adam make_adam(const nn::Module& model, optim::AmsGrad amsgrad = optim::AmsGrad::kNo) {
  return optim::Adam(model.named_parameters(), {.lr = 0.01f, .amsgrad = amsgrad});
}

void train_step(nn::Sequential& model, optim::Optimizer& optimizer) {
  Generator generator(99);
  const Tensor x = Tensor::randn(Shape{6, 4}, generator);
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 2, 1, 0}, Shape{6});
  optimizer.zero_grad();
  cross_entropy(model(x), labels).backward();
  optimizer.step();
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

void expect_same_named_tensors(const nn::NamedTensors& actual, const nn::NamedTensors& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first);
    EXPECT_TRUE(same_bytes(actual[i].second, expected[i].second)) << expected[i].first;
  }
}

nn::NamedTensors cloned(const nn::NamedTensors& tensors) {
  nn::NamedTensors copies;
  for (const auto& [name, tensor] : tensors) copies.emplace_back(name, tensor.clone());
  return copies;
}

TEST(Checkpoint, RoundTripRestoresModelAndOptimizerBitExactly) {
  const testing::ScopedTempDir dir;
  const auto model = make_model(1);
  optim::Adam adam = make_adam(*model);
  train_step(*model, adam);
  train_step(*model, adam);
  ASSERT_TRUE(io::save_checkpoint(dir.path(), *model, adam, {{"epoch", "3"}}).is_ok());

  const auto restored = make_model(2);
  optim::Adam restored_adam = make_adam(*restored);
  Result<io::Metadata> metadata = io::load_checkpoint(dir.path(), *restored, restored_adam);
  ASSERT_TRUE(metadata.is_ok()) << metadata.message();
  EXPECT_EQ(metadata.value().at("epoch"), "3");
  expect_same_named_tensors(restored->named_parameters(), model->named_parameters());
  expect_same_named_tensors(restored_adam.state(), adam.state());
}

TEST(Checkpoint, TrainingResumedFromCheckpointMatchesUninterruptedTraining) {
  const testing::ScopedTempDir dir;
  const auto model = make_model(3);
  optim::Adam adam = make_adam(*model);
  train_step(*model, adam);
  ASSERT_TRUE(io::save_checkpoint(dir.path(), *model, adam, {}).is_ok());
  train_step(*model, adam);

  const auto resumed = make_model(4);
  optim::Adam resumed_adam = make_adam(*resumed);
  ASSERT_TRUE(io::load_checkpoint(dir.path(), *resumed, resumed_adam).is_ok());
  train_step(*resumed, resumed_adam);
  expect_same_named_tensors(resumed->named_parameters(), model->named_parameters());
}

TEST(Checkpoint, ModelWithDifferentShapesIsRefused) {
  const testing::ScopedTempDir dir;
  const auto model = make_model(5);
  optim::Adam adam = make_adam(*model);
  ASSERT_TRUE(io::save_checkpoint(dir.path(), *model, adam, {}).is_ok());

  const auto wider = make_model(6, 9);
  optim::Adam wider_adam = make_adam(*wider);
  const Result<io::Metadata> result = io::load_checkpoint(dir.path(), *wider, wider_adam);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find(dir.path()), std::string::npos) << result.message();
  EXPECT_NE(result.message().find("'0.weight' has shape [8, 4]"), std::string::npos) << result.message();
}

TEST(Checkpoint, RefusedOptimizerStateLeavesModelAndOptimizerUntouched) {
  // The model matches but the optimizer does not (AMSGrad keeps one more tensor per parameter).
  const testing::ScopedTempDir dir;
  const auto model = make_model(7);
  optim::Adam adam = make_adam(*model);
  train_step(*model, adam);
  ASSERT_TRUE(io::save_checkpoint(dir.path(), *model, adam, {}).is_ok());

  const auto other = make_model(8);
  optim::Adam other_adam = make_adam(*other, optim::AmsGrad::kYes);
  train_step(*other, other_adam);
  const nn::NamedTensors parameters_before = cloned(other->named_parameters());
  const nn::NamedTensors state_before = cloned(other_adam.state());
  const Result<io::Metadata> result = io::load_checkpoint(dir.path(), *other, other_adam);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find("max_exp_avg_sq"), std::string::npos) << result.message();
  expect_same_named_tensors(other->named_parameters(), parameters_before);
  expect_same_named_tensors(other_adam.state(), state_before);
}

TEST(Checkpoint, FilesFromDifferentSavesAreRefused) {
  const testing::ScopedTempDir first_dir;
  const testing::ScopedTempDir second_dir;
  const auto model = make_model(9);
  optim::Adam adam = make_adam(*model);
  ASSERT_TRUE(io::save_checkpoint(first_dir.path(), *model, adam, {}).is_ok());
  train_step(*model, adam);
  ASSERT_TRUE(io::save_checkpoint(second_dir.path(), *model, adam, {}).is_ok());
  std::filesystem::copy_file(second_dir.file("optimizer.safetensors"),
                             first_dir.file("optimizer.safetensors"),
                             std::filesystem::copy_options::overwrite_existing);

  const Result<io::Metadata> result = io::load_checkpoint(first_dir.path(), *model, adam);
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find("different saves"), std::string::npos) << result.message();
}

}  // namespace
}  // namespace hive
