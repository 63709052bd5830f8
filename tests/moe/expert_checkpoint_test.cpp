// Expert checkpoints: a restored expert is the saved one exactly (parameters, optimizer state,
// schedule), and a checkpoint that is missing, of another shape, of another expert or of
// another optimizer is reported without changing the expert.
#include "moe/server/expert_checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "moe/experts/builtin_experts.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::random_tensor;
using hive::testing::ScopedTempDir;

constexpr OptimizerConfig kAdamWithWarmup = {
    .type = OptimizerType::kAdam, .lr = 0.01f, .warmup_steps = 5};

std::unique_ptr<ExpertBackend> ffn_backend(const char* uid, uint64_t seed, int64_t hidden = 4,
                                           OptimizerConfig optimizer = kAdamWithWarmup) {
  std::unique_ptr<ExpertModule> module =
      builtin_expert_registry().create("ffn", hidden, {.seed = seed}).value_or_throw();
  return std::make_unique<ExpertBackend>(ExpertUid::parse(uid).value(), std::move(module),
                                         ExpertBackendConfig{.optimizer = optimizer});
}

// One backward call (one optimizer step) with inputs drawn from `seed`.
void train_step(ExpertBackend& backend, uint64_t seed, int64_t hidden = 4) {
  const std::vector<Tensor> x = {random_tensor(Shape{3, hidden}, seed)};
  const std::vector<Tensor> grad = {random_tensor(Shape{3, hidden}, seed + 1000)};
  ASSERT_TRUE(backend.backward(x, grad).is_ok());
}

std::map<std::string, Tensor> parameters_of(ExpertBackend& backend) {
  std::map<std::string, Tensor> copies;
  for (const auto& [name, param] : backend.module().named_parameters()) {
    copies[name] = param.detach().clone();
  }
  return copies;
}

void expect_parameters_equal(ExpertBackend& backend,
                             const std::map<std::string, Tensor>& expected) {
  const std::map<std::string, Tensor> actual = parameters_of(backend);
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, value] : expected) {
    SCOPED_TRACE(name);
    expect_close(actual.at(name), value, 0.0, 0.0);
  }
}

std::string expert_file(const ScopedTempDir& dir, const char* uid, const char* name) {
  return dir.path() + "/" + uid + "/" + name;
}

TEST(ExpertCheckpoint, RestoredExpertEqualsTheSavedOneAndTrainsOnIdentically) {
  ScopedTempDir dir;
  std::unique_ptr<ExpertBackend> saved = ffn_backend("ffn.0.0", 1);
  for (uint64_t step = 0; step < 3; ++step) train_step(*saved, 10 + step);
  ASSERT_TRUE(save_expert_checkpoint(dir.path(), *saved).is_ok());

  std::unique_ptr<ExpertBackend> restored = ffn_backend("ffn.0.0", 99);
  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *restored);
  ASSERT_TRUE(loaded.is_ok()) << loaded.message();
  EXPECT_TRUE(loaded.value());
  expect_parameters_equal(*restored, parameters_of(*saved));
  EXPECT_EQ(restored->optimizer().steps_taken(), 3);
  EXPECT_EQ(restored->optimizer().next_lr(), saved->optimizer().next_lr());

  // Adam's moments came back too: the next step moves both experts the same way, bit for bit.
  train_step(*saved, 20);
  train_step(*restored, 20);
  expect_parameters_equal(*restored, parameters_of(*saved));
}

TEST(ExpertCheckpoint, NoCheckpointLoadsNothing) {
  ScopedTempDir dir;
  std::unique_ptr<ExpertBackend> backend = ffn_backend("ffn.0.0", 1);
  const std::map<std::string, Tensor> before = parameters_of(*backend);
  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *backend);
  ASSERT_TRUE(loaded.is_ok()) << loaded.message();
  EXPECT_FALSE(loaded.value());
  expect_parameters_equal(*backend, before);
  EXPECT_EQ(backend->optimizer().steps_taken(), 0);
}

TEST(ExpertCheckpoint, CheckpointOfAnotherHiddenSizeIsRefusedNamingFileAndTensor) {
  ScopedTempDir dir;
  std::unique_ptr<ExpertBackend> small = ffn_backend("ffn.0.0", 1, 4);
  train_step(*small, 10);
  ASSERT_TRUE(save_expert_checkpoint(dir.path(), *small).is_ok());

  std::unique_ptr<ExpertBackend> large = ffn_backend("ffn.0.0", 2, 8);
  const std::map<std::string, Tensor> before = parameters_of(*large);
  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *large);
  ASSERT_FALSE(loaded.is_ok());
  for (const std::string& fragment :
       {expert_file(dir, "ffn.0.0", "model.safetensors"), std::string("'ffn.up.weight'"),
        std::string("[16, 4] in the source but [32, 8] in the model")}) {
    EXPECT_NE(loaded.message().find(fragment), std::string::npos) << loaded.message();
  }
  expect_parameters_equal(*large, before);
  EXPECT_EQ(large->optimizer().steps_taken(), 0);
}

TEST(ExpertCheckpoint, CheckpointOfAnotherExpertIsRefusedNamingBoth) {
  ScopedTempDir dir;
  std::unique_ptr<ExpertBackend> other = ffn_backend("ffn.0.0", 1);
  ASSERT_TRUE(save_expert_checkpoint(dir.path(), *other).is_ok());
  std::filesystem::copy(dir.path() + "/ffn.0.0", dir.path() + "/ffn.0.1");

  std::unique_ptr<ExpertBackend> backend = ffn_backend("ffn.0.1", 2);
  const std::map<std::string, Tensor> before = parameters_of(*backend);
  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *backend);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.message().find("is a checkpoint of expert ffn.0.0, not of expert ffn.0.1"),
            std::string::npos)
      << loaded.message();
  expect_parameters_equal(*backend, before);
}

TEST(ExpertCheckpoint, FilesOfDifferentSavesAreRefused) {
  ScopedTempDir first;
  ScopedTempDir second;
  std::unique_ptr<ExpertBackend> backend = ffn_backend("ffn.0.0", 1);
  ASSERT_TRUE(save_expert_checkpoint(first.path(), *backend).is_ok());
  train_step(*backend, 10);
  ASSERT_TRUE(save_expert_checkpoint(second.path(), *backend).is_ok());
  // What a crash between the two files of a save leaves behind.
  std::filesystem::copy_file(expert_file(second, "ffn.0.0", "optimizer.safetensors"),
                             expert_file(first, "ffn.0.0", "optimizer.safetensors"),
                             std::filesystem::copy_options::overwrite_existing);

  const Result<bool> loaded = load_expert_checkpoint(first.path(), *ffn_backend("ffn.0.0", 2));
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.message().find("are from different saves"), std::string::npos)
      << loaded.message();
}

TEST(ExpertCheckpoint, MissingOptimizerFileIsRefusedNamingIt) {
  ScopedTempDir dir;
  ASSERT_TRUE(save_expert_checkpoint(dir.path(), *ffn_backend("ffn.0.0", 1)).is_ok());
  const std::string optimizer_file = expert_file(dir, "ffn.0.0", "optimizer.safetensors");
  std::filesystem::remove(optimizer_file);

  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *ffn_backend("ffn.0.0", 2));
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.message().find(optimizer_file), std::string::npos) << loaded.message();
}

TEST(ExpertCheckpoint, OptimizerStateThatDoesNotFitLeavesTheParametersAsTheyWere) {
  ScopedTempDir dir;
  std::unique_ptr<ExpertBackend> adam = ffn_backend("ffn.0.0", 1);
  train_step(*adam, 10);
  ASSERT_TRUE(save_expert_checkpoint(dir.path(), *adam).is_ok());

  // The parameters fit; Adam's moments do not belong to an expert without an optimizer.
  std::unique_ptr<ExpertBackend> frozen =
      ffn_backend("ffn.0.0", 2, 4, {.type = OptimizerType::kNone});
  const std::map<std::string, Tensor> before = parameters_of(*frozen);
  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *frozen);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.message().find(expert_file(dir, "ffn.0.0", "optimizer.safetensors")),
            std::string::npos)
      << loaded.message();
  EXPECT_NE(loaded.message().find("given to an expert that takes no optimizer steps"),
            std::string::npos)
      << loaded.message();
  expect_parameters_equal(*frozen, before);
  EXPECT_EQ(frozen->optimizer().steps_taken(), 0);
}

TEST(ExpertCheckpoint, ExpertWithoutOptimizerRoundTripsWithItsStepCount) {
  ScopedTempDir dir;
  std::unique_ptr<ExpertBackend> saved =
      ffn_backend("ffn.0.0", 1, 4, {.type = OptimizerType::kNone});
  train_step(*saved, 10);
  train_step(*saved, 11);
  ASSERT_TRUE(save_expert_checkpoint(dir.path(), *saved).is_ok());
  const Result<io::SafetensorsFile> optimizer_file =
      io::read_safetensors(expert_file(dir, "ffn.0.0", "optimizer.safetensors"));
  ASSERT_TRUE(optimizer_file.is_ok()) << optimizer_file.message();
  EXPECT_TRUE(optimizer_file.value().tensors.empty());

  std::unique_ptr<ExpertBackend> restored =
      ffn_backend("ffn.0.0", 2, 4, {.type = OptimizerType::kNone});
  const Result<bool> loaded = load_expert_checkpoint(dir.path(), *restored);
  ASSERT_TRUE(loaded.is_ok()) << loaded.message();
  EXPECT_TRUE(loaded.value());
  expect_parameters_equal(*restored, parameters_of(*saved));
  EXPECT_EQ(restored->optimizer().steps_taken(), 2);
}

}  // namespace
}  // namespace hive::moe
