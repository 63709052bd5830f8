// The fused gating op grid_topk against the ops it replaces, grid_scores + topk + softmax: the
// same experts and bit-identical weights on the CPU, gradients equal to theirs, and clear errors
// for bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "engine/nn/mixture_of_experts.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

const std::vector<std::vector<int64_t>> kGrids = {{64}, {8, 8}, {4, 4, 4}, {32, 32, 32}};
constexpr int64_t kKs[] = {1, 2, 4, 8};
constexpr int64_t kRowCounts[] = {1, 7, 300};

int64_t grid_width(const std::vector<int64_t>& grid) {
  int64_t width = 0;
  for (int64_t size : grid) width += size;
  return width;
}

// What MixtureOfExperts::route computed before the fused op.
GridTopK composed_gating(const Tensor& dimension_scores, const std::vector<int64_t>& grid,
                         int64_t k) {
  const TopK best = topk(nn::grid_scores(dimension_scores, grid), k);
  return {best.indices, softmax(best.values, -1)};
}

// Bit for bit, where NaN must meet NaN.
void expect_same_floats(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  const std::vector<float> got = actual.to_vector<float>();
  const std::vector<float> want = expected.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
    } else {
      EXPECT_EQ(got[i], want[i]) << "element " << i;
    }
  }
}

void expect_same_as_composed(const Tensor& dimension_scores, const std::vector<int64_t>& grid,
                             int64_t k) {
  const GridTopK actual = grid_topk(dimension_scores, grid, k);
  const GridTopK expected = composed_gating(dimension_scores, grid, k);
  ASSERT_EQ(actual.indices.dtype(), DType::kI64);
  EXPECT_EQ(actual.indices.to_vector<int64_t>(), expected.indices.to_vector<int64_t>());
  expect_same_floats(actual.weights, expected.weights);
}

// Integers from -2 to 2: most rows have many experts with equal scores.
Tensor tied_scores(const Shape& shape, uint64_t seed) {
  Tensor values = testing::random_tensor(shape, seed);
  float* data = values.data<float>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    data[i] = std::fmin(2.0f, std::fmax(-2.0f, std::round(data[i])));
  }
  return values;
}

TEST(GridTopK, MatchesGridScoresTopkSoftmaxBitForBit) {
  uint64_t seed = 1;
  for (const std::vector<int64_t>& grid : kGrids) {
    for (const int64_t rows : kRowCounts) {
      const Tensor scores = testing::random_tensor(Shape{rows, grid_width(grid)}, seed++);
      for (const int64_t k : kKs) {
        SCOPED_TRACE(::testing::Message() << "grid of " << grid.size() << " dimensions, first "
                                          << grid[0] << ", rows " << rows << ", k " << k);
        expect_same_as_composed(scores, grid, k);
      }
    }
  }
}

TEST(GridTopK, BreaksTiesTowardsTheLowerExpertAsTopkDoes) {
  uint64_t seed = 100;
  for (const std::vector<int64_t>& grid : kGrids) {
    const Tensor scores = tied_scores(Shape{37, grid_width(grid)}, seed++);
    for (const int64_t k : kKs) {
      SCOPED_TRACE(::testing::Message() << "grid of " << grid.size() << " dimensions, first "
                                        << grid[0] << ", k " << k);
      expect_same_as_composed(scores, grid, k);
    }
  }
}

TEST(GridTopK, ChoosesUpToThirtyTwoAndEveryExpertOfASmallGrid) {
  expect_same_as_composed(testing::random_tensor(Shape{9, 16}, 200), {8, 8}, 32);
  expect_same_as_composed(tied_scores(Shape{9, 16}, 201), {8, 8}, 32);
  expect_same_as_composed(testing::random_tensor(Shape{5, 5}, 202), {2, 3}, 6);
}

TEST(GridTopK, RanksNanScoresFirstInExpertOrder) {
  const std::vector<int64_t> grid = {4, 4, 4};
  Tensor scores = testing::random_tensor(Shape{6, 12}, 300);
  float* data = scores.data<float>();
  data[0 * 12 + 5] = kNaN;   // row 0: dimension 1, coordinate 1: 16 experts are NaN
  data[2 * 12 + 11] = kNaN;  // row 2: dimension 2, coordinate 3
  data[2 * 12 + 0] = kNaN;   // and dimension 0, coordinate 0
  for (const int64_t k : kKs) {
    SCOPED_TRACE(::testing::Message() << "k " << k);
    expect_same_as_composed(scores, grid, k);
  }
  const GridTopK gating = grid_topk(scores, grid, 2);
  const std::vector<int64_t> indices = gating.indices.to_vector<int64_t>();
  EXPECT_EQ(indices[0], 4);  // the NaN experts of row 0 are (c0, 1, c2): 4, 5, 6, 7, 20, ...
  EXPECT_EQ(indices[1], 5);
  EXPECT_EQ(indices[4], 0);  // row 2: (0, c1, c2) and (c0, c1, 3) are NaN: 0, 1, 2, 3, 7, ...
  EXPECT_EQ(indices[5], 1);
}

TEST(GridTopK, HandlesNoRows) {
  const GridTopK gating = grid_topk(Tensor::zeros(Shape{0, 16}), std::vector<int64_t>{8, 8}, 2);
  EXPECT_EQ(gating.indices.shape(), (Shape{0, 2}));
  EXPECT_EQ(gating.weights.shape(), (Shape{0, 2}));
}

// Gradients of L = sum(weights * probe), probe a fixed random tensor.
Tensor weights_gradient(const std::function<Tensor(const Tensor&)>& weights_of,
                        const Tensor& scores, const Tensor& probe) {
  const Tensor leaf = scores.detach();
  leaf.set_requires_grad(RequiresGrad::kYes);
  sum(mul(weights_of(leaf), probe)).backward();
  return leaf.grad();
}

TEST(GridTopK, GradientMatchesTheComposedOps) {
  uint64_t seed = 400;
  for (const std::vector<int64_t>& grid : kGrids) {
    for (const int64_t k : kKs) {
      SCOPED_TRACE(::testing::Message() << "grid of " << grid.size() << " dimensions, first "
                                        << grid[0] << ", k " << k);
      const Tensor scores = testing::random_tensor(Shape{7, grid_width(grid)}, seed++);
      const Tensor probe = testing::random_tensor(Shape{7, k}, seed++);
      const Tensor fused = weights_gradient(
          [&](const Tensor& x) { return grid_topk(x, grid, k).weights; }, scores, probe);
      const Tensor composed = weights_gradient(
          [&](const Tensor& x) { return composed_gating(x, grid, k).weights; }, scores, probe);
      // Equal up to the order in which experts that share a coordinate add up.
      testing::expect_close(fused, composed, 1e-7, 1e-6);
    }
  }
}

TEST(GridTopK, GradientMatchesFiniteDifferences) {
  const std::vector<int64_t> grid = {3, 4};
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) { return grid_topk(in[0], grid, 3).weights; },
      {testing::random_parameter(Shape{5, 7}, 500)});
}

TEST(GridTopK, RejectsBadArguments) {
  const Tensor scores = testing::random_tensor(Shape{3, 16}, 600);
  const std::vector<int64_t> grid = {8, 8};
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(Tensor(), grid, 2); },
                                    {"grid_topk", "dimension_scores", "undefined"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores.to(DType::kI64), grid, 2); },
                                    {"grid_topk", "dimension_scores", "i64"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores.reshape(Shape{48}), grid, 2); },
                                    {"grid_topk", "[48]", "rank 2"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores, std::vector<int64_t>{8, 4}, 2); },
                                    {"grid_topk", "[3, 16]", "[n, 12]", "{8, 4}"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores, std::vector<int64_t>{}, 2); },
                                    {"grid_topk", "{}", "0 dimensions", "1 to 8"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { grid_topk(scores, std::vector<int64_t>{2, 2, 2, 2, 2, 2, 1, 1, 2}, 2); },
      {"grid_topk", "9 dimensions", "1 to 8"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores, std::vector<int64_t>{16, 0}, 2); },
                                    {"grid_topk", "{16, 0}", "size 0"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { grid_topk(scores, std::vector<int64_t>{65536, 65536}, 2); },
      {"grid_topk", "{65536, 65536}", "2^31 - 1 experts"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores, grid, 0); },
                                    {"grid_topk", "k = 0", "[1, 32]"}));
  EXPECT_TRUE(testing::throws_error([&] { grid_topk(scores, grid, 33); },
                                    {"grid_topk", "k = 33", "[1, 32]", "64 experts"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { grid_topk(testing::random_tensor(Shape{3, 5}, 601), std::vector<int64_t>{2, 3}, 7); },
      {"grid_topk", "k = 7", "[1, 6]"}));
}

}  // namespace
}  // namespace hive
