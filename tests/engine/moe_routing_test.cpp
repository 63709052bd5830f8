// The grouped MoE routing ops (moe_plan, moe_dispatch, moe_combine): exact oracles written out
// row by row, and finite differences for the gradients.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

Tensor random_routing(int64_t rows, int64_t k, int64_t experts, uint64_t seed) {
  Generator generator(seed);
  std::vector<int64_t> chosen;
  for (int64_t i = 0; i < rows * k; ++i) {
    chosen.push_back(static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(experts))));
  }
  return Tensor::from_vector(chosen, Shape{rows, k});
}

TEST(MoeRouting, SlotPositionsInvertChoiceSlots) {
  const Tensor indices = Tensor::from_vector(std::vector<int64_t>{2, 0, 1, 2, 2, 1}, Shape{3, 2});
  const MoePlan plan = moe_plan(indices, 4);
  EXPECT_EQ(plan.choice_slots.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 5, 0, 3, 4}));
  EXPECT_EQ(plan.slot_positions.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 1, 4, 5, 2}));

  const MoePlan random = moe_plan(random_routing(50, 3, 9, 1), 9);
  const std::vector<int64_t> slots = random.choice_slots.to_vector<int64_t>();
  const std::vector<int64_t> positions = random.slot_positions.to_vector<int64_t>();
  for (size_t p = 0; p < slots.size(); ++p) {
    EXPECT_EQ(positions[static_cast<size_t>(slots[p])], static_cast<int64_t>(p)) << "position " << p;
  }
}

TEST(MoeRouting, DispatchCopiesEachRowToItsGroupedPositions) {
  const Tensor x = testing::random_tensor(Shape{17, 5}, 2);
  const MoePlan plan = moe_plan(random_routing(17, 2, 6, 3), 6);
  const Tensor grouped = moe_dispatch(x, plan);
  ASSERT_EQ(grouped.shape(), (Shape{34, 5}));
  const std::vector<float> xs = x.to_vector<float>();
  const std::vector<float> gs = grouped.to_vector<float>();
  const std::vector<int64_t> rows = plan.source_rows.to_vector<int64_t>();
  for (size_t p = 0; p < rows.size(); ++p) {
    for (size_t c = 0; c < 5; ++c) {
      EXPECT_EQ(gs[p * 5 + c], xs[static_cast<size_t>(rows[p]) * 5 + c]) << "position " << p;
    }
  }
}

TEST(MoeRouting, CombineSumsWeightedOutputsInChoiceOrder) {
  constexpr int64_t kRows = 13;
  constexpr int64_t kK = 3;
  constexpr int64_t kWidth = 7;
  const MoePlan plan = moe_plan(random_routing(kRows, kK, 5, 4), 5);
  const Tensor grouped = testing::random_tensor(Shape{kRows * kK, kWidth}, 5);
  const Tensor weights = testing::random_tensor(Shape{kRows, kK}, 6);
  const std::vector<float> gs = grouped.to_vector<float>();
  const std::vector<float> ws = weights.to_vector<float>();
  const std::vector<int64_t> positions = plan.slot_positions.to_vector<int64_t>();
  std::vector<float> expected;
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < kWidth; ++c) {
      float sum = 0.0f;
      for (int64_t j = 0; j < kK; ++j) {
        const auto slot = static_cast<size_t>(r * kK + j);
        sum += ws[slot] * gs[static_cast<size_t>(positions[slot] * kWidth + c)];
      }
      expected.push_back(sum);
    }
  }
  testing::expect_close(moe_combine(grouped, weights, plan), expected, 1e-6, 1e-6);
}

TEST(MoeRouting, CombineOfDispatchWithUnitWeightsMultipliesRowsByK) {
  const Tensor x = testing::random_tensor(Shape{9, 4}, 7);
  const MoePlan plan = moe_plan(random_routing(9, 2, 3, 8), 3);
  const Tensor weights = Tensor::ones(Shape{9, 2});
  testing::expect_close(moe_combine(moe_dispatch(x, plan), weights, plan), mul(x, Tensor::scalar(2.0)),
                        1e-6, 1e-6);
}

TEST(MoeRouting, GradientsMatchFiniteDifferences) {
  const MoePlan plan = moe_plan(random_routing(6, 2, 4, 9), 4);
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) {
        return moe_combine(mul(moe_dispatch(in[0], plan), in[1]), in[2], plan);
      },
      {testing::random_parameter(Shape{6, 3}, 10), testing::random_parameter(Shape{12, 3}, 11),
       testing::random_parameter(Shape{6, 2}, 12)});
}

TEST(MoeRouting, Bf16CombineMatchesF32) {
  const MoePlan plan = moe_plan(random_routing(64, 2, 8, 13), 8);
  const Tensor grouped = testing::random_tensor(Shape{128, 33}, 14);
  const Tensor weights = testing::random_tensor(Shape{64, 2}, 15);
  const Tensor reference = moe_combine(grouped, weights, plan);
  const Tensor bf16 = moe_combine(grouped.to(DType::kBF16), weights.to(DType::kBF16), plan);
  testing::expect_close(bf16.to(DType::kF32), reference, 5e-2, 2e-2);
}

TEST(MoeRouting, EmptyBatchGivesEmptyResults) {
  const MoePlan plan = moe_plan(Tensor::empty(Shape{0, 2}, DType::kI64), 3);
  EXPECT_EQ(plan.expert_counts, (std::vector<int64_t>{0, 0, 0}));
  const Tensor grouped = moe_dispatch(Tensor::empty(Shape{0, 4}), plan);
  EXPECT_EQ(grouped.shape(), (Shape{0, 4}));
  EXPECT_EQ(moe_combine(grouped, Tensor::empty(Shape{0, 2}), plan).shape(), (Shape{0, 4}));
}

TEST(MoeRouting, RejectsMismatchedShapes) {
  const MoePlan plan = moe_plan(random_routing(4, 2, 3, 16), 3);
  EXPECT_TRUE(testing::throws_error([&] { (void)moe_dispatch(Tensor::zeros(Shape{5, 2}), plan); },
                                    {"moe_dispatch", "[5, 2]", "[4, d]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)moe_combine(Tensor::zeros(Shape{7, 2}), Tensor::zeros(Shape{4, 2}), plan); },
      {"moe_combine", "[7, 2]", "[8, d]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)moe_combine(Tensor::zeros(Shape{8, 2}), Tensor::zeros(Shape{4, 3}), plan); },
      {"moe_combine", "weights", "[4, 3]"}));
  EXPECT_TRUE(testing::throws_error([&] { (void)moe_plan(Tensor::zeros(Shape{4, 2}), 3); },
                                    {"moe_plan", "i64"}));
}

}  // namespace
}  // namespace hive
