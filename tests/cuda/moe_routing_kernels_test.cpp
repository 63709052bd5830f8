// The CUDA routing kernels against the CPU backend: moe_plan gives exactly the CPU's plan (the
// same stable grouping, counts and inverse), and moe_dispatch / moe_combine (the combine kernel,
// and its backward) match forward and backward within the dtype's tolerance.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/ops/moe_routing.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_equal_indices;
using testing::random_input;
using testing::tolerance_for;
using testing::TensorFunction;

using testing::kFloatTypes;

// i64 [rows, k] CPU indices; only every `stride`-th expert is ever chosen, so with stride > 1
// most experts get no pairs at all. A row may choose one expert twice: the plan must not care.
Tensor random_routing(int64_t rows, int64_t k, int64_t experts, int64_t stride, uint64_t seed) {
  Generator generator(seed);
  const auto choices = static_cast<uint64_t>((experts + stride - 1) / stride);
  std::vector<int64_t> indices(static_cast<size_t>(rows * k));
  for (int64_t& index : indices) {
    index = static_cast<int64_t>(generator.next_below(choices)) * stride;
  }
  return Tensor::from_vector(indices, Shape{rows, k});
}

class MoeRoutingKernelsTest : public testing::CudaTest {
 protected:
  static void expect_plans_equal(const Tensor& expert_indices, int64_t experts) {
    const MoePlan expected = moe_plan(expert_indices, experts);
    const MoePlan actual = moe_plan(expert_indices.to(gpu()), experts);
    ASSERT_EQ(actual.slot_positions.device(), gpu());
    EXPECT_EQ(actual.rows, expected.rows);
    EXPECT_EQ(actual.k, expected.k);
    EXPECT_EQ(actual.expert_counts, expected.expert_counts);
    {
      SCOPED_TRACE("choice_slots");
      expect_equal_indices(actual.choice_slots, expected.choice_slots);
    }
    {
      SCOPED_TRACE("source_rows");
      expect_equal_indices(actual.source_rows, expected.source_rows);
    }
    SCOPED_TRACE("slot_positions");
    expect_equal_indices(actual.slot_positions, expected.slot_positions);
  }
};

TEST_F(MoeRoutingKernelsTest, PlanEqualsCpuPlanExactly) {
  struct Routing {
    int64_t rows;
    int64_t k;
    int64_t experts;
    int64_t stride;  // > 1: experts without pairs
  };
  // Pair counts that are not multiples of a warp or a block, one row, one expert, 4096 experts
  // (13 key bits), and many pairs per expert.
  const Routing routings[] = {
      {1, 1, 1, 1},       {1, 2, 8, 1},      {1, 4, 4096, 1},   {7, 3, 5, 2},
      {37, 2, 64, 1},     {1000, 2, 64, 3},  {333, 3, 4096, 1}, {4097, 4, 4096, 7},
      {16384, 2, 64, 1},  {3001, 8, 256, 5}, {50000, 1, 2, 1},
  };
  uint64_t seed = 1;
  for (const Routing& routing : routings) {
    SCOPED_TRACE(::testing::Message() << routing.rows << " rows, k " << routing.k << ", "
                                      << routing.experts << " experts, stride " << routing.stride);
    expect_plans_equal(
        random_routing(routing.rows, routing.k, routing.experts, routing.stride, seed++),
        routing.experts);
  }
}

TEST_F(MoeRoutingKernelsTest, PlanOfNoPairsCountsZeros) {
  for (const Shape& shape : {Shape{0, 2}, Shape{5, 0}}) {
    SCOPED_TRACE(::testing::Message() << "indices " << shape);
    const Tensor empty = Tensor::zeros(shape, DType::kI64);
    expect_plans_equal(empty, 16);
    EXPECT_EQ(moe_plan(empty.to(gpu()), 16).expert_counts, std::vector<int64_t>(16, 0));
  }
}

TEST_F(MoeRoutingKernelsTest, OutOfRangeExpertThrowsOnGpu) {
  constexpr int64_t kExperts = 8;
  for (const int64_t bad : {int64_t{-1}, kExperts, int64_t{1} << 40}) {
    SCOPED_TRACE(::testing::Message() << "expert " << bad);
    std::vector<int64_t> indices = random_routing(300, 2, kExperts, 1, 50).to_vector<int64_t>();
    indices[2 * 123 + 1] = bad;
    const Tensor expert_indices = Tensor::from_vector(indices, Shape{300, 2}).to(gpu());
    EXPECT_TRUE(testing::throws_error([&] { moe_plan(expert_indices, kExperts); },
                                      {"moe_plan", "row 123"}));
  }
}

TEST_F(MoeRoutingKernelsTest, DispatchAndCombineMatchCpuForwardAndBackward) {
  struct Layer {
    int64_t rows;
    int64_t k;
    int64_t experts;
    int64_t width;  // odd: the kernels' element path; a multiple of 16 bytes: the packed one
  };
  const Layer layers[] = {{1, 1, 4, 33}, {300, 2, 8, 33}, {513, 2, 64, 1024}, {64, 4, 16, 24}};
  uint64_t seed = 100;
  for (const DType dtype : kFloatTypes) {
    for (const Layer& layer : layers) {
      SCOPED_TRACE(::testing::Message() << dtype << ", " << layer.rows << " rows of "
                                        << layer.width << ", k " << layer.k << ", "
                                        << layer.experts << " experts");
      const Tensor indices = random_routing(layer.rows, layer.k, layer.experts, 3, seed++);
      // The plan is made on the inputs' device, as a layer does.
      const auto plan_for = [indices, experts = layer.experts](const Tensor& on) {
        return moe_plan(indices.to(on.device()), experts);
      };
      const TensorFunction dispatch = [plan_for](const std::vector<Tensor>& in) {
        return moe_dispatch(in[0], plan_for(in[0]));
      };
      const TensorFunction combine = [plan_for](const std::vector<Tensor>& in) {
        return moe_combine(in[0], in[1], plan_for(in[0]));
      };
      {
        SCOPED_TRACE("moe_dispatch");
        expect_matches_cpu(dispatch, {random_input(Shape{layer.rows, layer.width}, seed++, dtype)},
                           tolerance_for(dtype));
      }
      SCOPED_TRACE("moe_combine");
      expect_matches_cpu(combine,
                         {random_input(Shape{layer.rows * layer.k, layer.width}, seed, dtype),
                          random_input(Shape{layer.rows, layer.k}, seed + 1, dtype)},
                         tolerance_for(dtype));
      seed += 2;
    }
  }
}

}  // namespace
}  // namespace hive
