// The expert registry: the built-in types, errors that name the type, and a user-defined type
// served like a built-in one.
#include "moe/experts/expert_registry.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "moe/experts/builtin_experts.h"
#include "moe/server/expert_backend.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::random_tensor;

// A user-defined type: y = x * w with one learnable scale w per column.
class ColumnScaleExpert : public ExpertModule {
 public:
  explicit ColumnScaleExpert(int64_t hidden)
      : ExpertModule(
            {.inputs = {{DType::kF32, Shape{hidden}}}, .outputs = {{DType::kF32, Shape{hidden}}}}),
        scale_(register_parameter("scale", Tensor::full(Shape{hidden}, 2.0))) {}
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override {
    return {mul(inputs[0], scale_)};
  }

 private:
  Tensor scale_;
};

TEST(ExpertRegistry, BuiltinRegistryKnowsHivemindsTypes) {
  EXPECT_EQ(builtin_expert_registry().types(),
            (std::vector<std::string>{"det_dropout", "ffn", "nop", "nop_delay", "transformer"}));
}

TEST(ExpertRegistry, CreatesEveryBuiltinTypeWithItsSchema) {
  const ExpertRegistry registry = builtin_expert_registry();
  const ExpertOptions options{.attention_heads = 2, .sequence_length = 5};
  for (const std::string& type : registry.types()) {
    Result<std::unique_ptr<ExpertModule>> expert = registry.create(type, 8, options);
    ASSERT_TRUE(expert.is_ok()) << expert.message();
    const ExpertSchema& schema = expert.value()->schema();
    EXPECT_EQ(schema.outputs.back().row_shape.back(), 8) << type;
  }
}

TEST(ExpertRegistry, SameSeedGivesTheSameParameters) {
  const ExpertRegistry registry = builtin_expert_registry();
  const auto first = registry.create("ffn", 4, {.seed = 3}).value_or_throw();
  const auto again = registry.create("ffn", 4, {.seed = 3}).value_or_throw();
  const auto other = registry.create("ffn", 4, {.seed = 4}).value_or_throw();
  const Tensor a = first->named_parameters()[0].second;
  expect_close(again->named_parameters()[0].second, a, 0.0, 0.0);
  EXPECT_NE(other->named_parameters()[0].second.to_vector<float>(), a.to_vector<float>());
}

TEST(ExpertRegistry, UnknownTypeListsTheKnownOnes) {
  EXPECT_EQ(builtin_expert_registry().create("moe", 8, {}).message(),
            "unknown expert type 'moe' (known types: det_dropout, ffn, nop, nop_delay, "
            "transformer)");
  EXPECT_EQ(ExpertRegistry().create("ffn", 8, {}).message(),
            "unknown expert type 'ffn' (known types: none)");
}

TEST(ExpertRegistry, RefusesANonPositiveHiddenSize) {
  EXPECT_EQ(builtin_expert_registry().create("ffn", 0, {}).message(),
            "expert type 'ffn': hidden size 0 must be positive");
}

TEST(ExpertRegistry, ReportsOptionsTheTypeCannotUse) {
  EXPECT_EQ(builtin_expert_registry().create("transformer", 10, {}).message(),
            "expert type 'transformer' with hidden size 10: self-attention: hidden size 10 is "
            "not a multiple of 16 heads");
  EXPECT_EQ(
      builtin_expert_registry().create("det_dropout", 4, {.drop_probability = 1.0f}).message(),
      "expert type 'det_dropout' with hidden size 4: det_dropout: drop probability 1 is "
      "outside [0, 1)");
}

TEST(ExpertRegistry, RefusesADuplicateOrNamelessType) {
  ExpertRegistry registry = builtin_expert_registry();
  const ExpertFactory factory = [](int64_t hidden, const ExpertOptions&) {
    return std::make_unique<ColumnScaleExpert>(hidden);
  };
  EXPECT_EQ(registry.add("ffn", factory).message(),
            "expert registry: type 'ffn' is already registered");
  EXPECT_EQ(registry.add("", factory).message(), "expert registry: an expert type needs a name");
}

TEST(ExpertRegistry, UserDefinedTypeIsServedAndTrainedLikeABuiltinOne) {
  ExpertRegistry registry = builtin_expert_registry();
  ASSERT_TRUE(registry
                  .add("column_scale",
                       [](int64_t hidden, const ExpertOptions&) {
                         return std::make_unique<ColumnScaleExpert>(hidden);
                       })
                  .is_ok());
  ExpertBackend backend(ExpertUid::parse("column_scale.0").value(),
                        registry.create("column_scale", 2, {}).value_or_throw(),
                        {.optimizer = {.type = OptimizerType::kSgd, .lr = 0.5f}});
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{2, 2});
  expect_close(backend.forward(std::vector{x}).value()[0], {2, 4, 6, 8}, 0.0, 0.0);

  const Tensor grad_output = Tensor::ones(Shape{2, 2});
  expect_close(backend.backward(std::vector{x}, std::vector{grad_output}).value()[0], {2, 2, 2, 2},
               0.0, 0.0);
  // d loss / d scale = column sums of x = {4, 6}; SGD: 2 - 0.5 * {4, 6}.
  expect_close(backend.module().named_parameters()[0].second, {0.0f, -1.0f}, 0.0, 0.0);
}

}  // namespace
}  // namespace hive::moe
