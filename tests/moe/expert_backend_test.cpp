// ExpertBackend: what it checks before running an expert, what forward and backward leave
// behind, and how it reports an expert that breaks its own schema or throws.
#include "moe/server/expert_backend.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/ops.h"
#include "moe/experts/ffn_expert.h"
#include "moe/experts/nop_expert.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::random_tensor;

ExpertUid uid(const char* text) { return ExpertUid::parse(text).value(); }

ExpertBackend ffn_backend(int64_t max_batch_size = 16) {
  Generator generator(1);
  return ExpertBackend(
      uid("ffn.3.17"), std::make_unique<FfnExpert>(4, generator),
      {.max_batch_size = max_batch_size, .optimizer = {.type = OptimizerType::kSgd, .lr = 0.1f}});
}

// A user-defined expert whose output has the wrong width, or whose forward throws.
class BrokenExpert : public ExpertModule {
 public:
  enum class Fault : uint8_t { kWrongOutputShape, kThrows };
  explicit BrokenExpert(Fault fault)
      : ExpertModule({.inputs = {{DType::kF32, Shape{2}}}, .outputs = {{DType::kF32, Shape{2}}}}),
        fault_(fault),
        weight_(register_parameter("weight", Tensor::ones(Shape{2, 2}))) {}
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override {
    const Tensor y = matmul(inputs[0], weight_);
    HIVE_REQUIRE(fault_ != Fault::kThrows, "this expert always fails");
    return {concat({y, y}, 1)};
  }

 private:
  Fault fault_;
  Tensor weight_;
};

TEST(ExpertBackend, ForwardRecordsNothingAndTakesNoStep) {
  ExpertBackend backend = ffn_backend();
  const std::vector<Tensor> outputs =
      backend.forward(std::vector{random_tensor(Shape{3, 4}, 1)}).value();
  EXPECT_FALSE(outputs[0].requires_grad());
  for (const auto& [name, param] : backend.module().named_parameters()) {
    EXPECT_FALSE(param.grad().defined()) << name;
  }
  EXPECT_EQ(backend.optimizer().steps_taken(), 0);
}

TEST(ExpertBackend, EachBackwardTakesOneStep) {
  ExpertBackend backend = ffn_backend();
  const Tensor x = random_tensor(Shape{3, 4}, 1);
  for (int call = 1; call <= 3; ++call) {
    ASSERT_TRUE(backend.backward(std::vector{x}, std::vector{x}).is_ok());
    EXPECT_EQ(backend.optimizer().steps_taken(), call);
  }
}

TEST(ExpertBackend, BackwardLeavesTheCallersTensorsAlone) {
  ExpertBackend backend = ffn_backend();
  const Tensor x = random_tensor(Shape{3, 4}, 1);
  const std::vector<float> before = x.to_vector<float>();
  ASSERT_TRUE(backend.backward(std::vector{x}, std::vector{x}).is_ok());
  EXPECT_FALSE(x.requires_grad());
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(x.to_vector<float>(), before);
}

TEST(ExpertBackend, BackwardWorksWhenTheCallerTurnedGradientsOff) {
  ExpertBackend backend = ffn_backend();
  const Tensor x = random_tensor(Shape{3, 4}, 1);
  NoGradGuard no_grad;
  const Result<std::vector<Tensor>> grads = backend.backward(std::vector{x}, std::vector{x});
  ASSERT_TRUE(grads.is_ok()) << grads.message();
  EXPECT_FALSE(GradMode::is_enabled()) << "the caller's grad mode is restored";
}

TEST(ExpertBackend, NamesTheDimensionOfAnInputThatDoesNotFitTheSchema) {
  ExpertBackend backend(uid("ffn.3.17"), std::make_unique<NopExpert>(1024), {});
  EXPECT_EQ(backend.forward(std::vector{Tensor::zeros(Shape{8, 512})}).message(),
            "expert ffn.3.17: input 0 has shape [8, 512], expected [*, 1024] (dimension 1)");
  EXPECT_EQ(backend
                .backward(std::vector{Tensor::zeros(Shape{8, 512})},
                          std::vector{Tensor::zeros(Shape{8, 1024})})
                .message(),
            "expert ffn.3.17: input 0 has shape [8, 512], expected [*, 1024] (dimension 1)");
}

TEST(ExpertBackend, RefusesBatchesOverTheLimitAndEmptyBatches) {
  ExpertBackend backend = ffn_backend(4);
  EXPECT_EQ(backend.forward(std::vector{Tensor::zeros(Shape{5, 4})}).message(),
            "expert ffn.3.17: batch of 5 rows exceeds the limit of 4");
  EXPECT_EQ(backend
                .backward(std::vector{Tensor::zeros(Shape{5, 4})},
                          std::vector{Tensor::zeros(Shape{5, 4})})
                .message(),
            "expert ffn.3.17: batch of 5 rows exceeds the limit of 4");
  EXPECT_EQ(backend.forward(std::vector{Tensor::zeros(Shape{0, 4})}).message(),
            "expert ffn.3.17: a call needs at least one row");
  EXPECT_TRUE(backend.forward(std::vector{Tensor::zeros(Shape{4, 4})}).is_ok());
}

TEST(ExpertBackend, RefusesOutputGradientsThatDoNotFitTheOutputs) {
  ExpertBackend backend = ffn_backend();
  const std::vector<Tensor> inputs = {Tensor::zeros(Shape{4, 4})};
  EXPECT_EQ(backend.backward(inputs, std::vector{Tensor::zeros(Shape{3, 4})}).message(),
            "expert ffn.3.17: output gradient 0 has 3 rows, expected 4 like the rest of the call");
  EXPECT_EQ(backend.backward(inputs, std::vector{Tensor::zeros(Shape{4, 3})}).message(),
            "expert ffn.3.17: output gradient 0 has shape [4, 3], expected [*, 4] (dimension 1)");
  EXPECT_EQ(backend.backward(inputs, std::vector<Tensor>{}).message(),
            "expert ffn.3.17: got 0 output gradients, expected 1");
  EXPECT_EQ(backend.optimizer().steps_taken(), 0) << "a refused call changes nothing";
}

TEST(ExpertBackend, ReportsAnExpertThatBreaksItsOwnSchema) {
  ExpertBackend backend(uid("broken.0"),
                        std::make_unique<BrokenExpert>(BrokenExpert::Fault::kWrongOutputShape), {});
  const Tensor x = Tensor::ones(Shape{2, 2});
  const std::string expected =
      "expert broken.0 broke its own schema: output 0 has shape [2, 4], expected [*, 2] "
      "(dimension 1)";
  EXPECT_EQ(backend.forward(std::vector{x}).message(), expected);
  EXPECT_EQ(backend.backward(std::vector{x}, std::vector{x}).message(), expected);
}

TEST(ExpertBackend, ReportsAnExpertThatThrows) {
  ExpertBackend backend(uid("broken.1"),
                        std::make_unique<BrokenExpert>(BrokenExpert::Fault::kThrows), {});
  const Tensor x = Tensor::ones(Shape{2, 2});
  EXPECT_EQ(backend.forward(std::vector{x}).message(),
            "expert broken.1: forward failed: this expert always fails");
  EXPECT_EQ(backend.backward(std::vector{x}, std::vector{x}).message(),
            "expert broken.1: backward failed: this expert always fails");
}

TEST(ExpertBackend, RefusesANonPositiveBatchLimit) {
  EXPECT_TRUE(hive::testing::throws_error(
      [] {
        ExpertBackend backend(uid("nop.0"), std::make_unique<NopExpert>(4), {.max_batch_size = 0});
      },
      {"expert nop.0: max batch size 0 must be positive"}));
}

}  // namespace
}  // namespace hive::moe
