#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/core/random.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Selection {
  std::vector<float> values;
  std::vector<int64_t> indices;
};

// Per row of width `width`: std::stable_sort by descending value (NaN first), so equal values
// keep their original (ascending index) order; then keep the first k.
Selection topk_reference(const std::vector<float>& x, int64_t width, int64_t k) {
  Selection result;
  for (size_t row = 0; row * static_cast<size_t>(width) < x.size(); ++row) {
    const float* line = x.data() + row * static_cast<size_t>(width);
    std::vector<int64_t> order(static_cast<size_t>(width));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [line](int64_t i, int64_t j) {
      if (std::isnan(line[i]) || std::isnan(line[j]))
        return std::isnan(line[i]) && !std::isnan(line[j]);
      return line[i] > line[j];
    });
    for (int64_t j = 0; j < k; ++j) {
      result.indices.push_back(order[static_cast<size_t>(j)]);
      result.values.push_back(line[order[static_cast<size_t>(j)]]);
    }
  }
  return result;
}

std::vector<float> random_values(int64_t count, uint64_t seed) {
  Generator generator(seed);
  return Tensor::randn(Shape{count}, generator).to_vector<float>();
}

// Compares values bit for bit where NaN positions must match too.
void expect_same_values(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "element " << i;
    } else {
      EXPECT_EQ(actual[i], expected[i]) << "element " << i;
    }
  }
}

TEST(TopK, MatchesSortedReferenceOnRandomRows) {
  const std::vector<float> values = random_values(5 * 9, 1);
  const Tensor x = Tensor::from_vector(values, Shape{5, 9});
  for (int64_t k : {1, 4, 9}) {
    SCOPED_TRACE(k);
    const TopK top = topk(x, k);
    const Selection expected = topk_reference(values, 9, k);
    EXPECT_EQ(top.values.shape(), (Shape{5, k}));
    EXPECT_EQ(top.indices.dtype(), DType::kI64);
    EXPECT_EQ(top.values.to_vector<float>(), expected.values);
    EXPECT_EQ(top.indices.to_vector<int64_t>(), expected.indices);
  }
}

TEST(TopK, WorksOnThreeDimensionalInputAndManyRows) {
  const std::vector<float> values = random_values(300 * 40, 2);
  const Tensor x = Tensor::from_vector(values, Shape{3, 100, 40});
  const TopK top = topk(x, 6);
  const Selection expected = topk_reference(values, 40, 6);
  EXPECT_EQ(top.values.shape(), (Shape{3, 100, 6}));
  EXPECT_EQ(top.values.to_vector<float>(), expected.values);
  EXPECT_EQ(top.indices.to_vector<int64_t>(), expected.indices);
}

TEST(TopK, TiesKeepTheLowerIndexFirst) {
  const Tensor x =
      Tensor::from_vector(std::vector<float>{1, 3, 2, 3, 3, 0, 0, 5, 0, 0}, Shape{2, 5});
  const TopK top = topk(x, 3);
  EXPECT_EQ(top.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 4, 2, 0, 1}));
  EXPECT_EQ(top.values.to_vector<float>(), (std::vector<float>{3, 3, 3, 5, 0, 0}));
}

TEST(TopK, TiesOnRoundedValuesMatchReference) {
  // Values rounded to a few levels, so most rows have ties.
  std::vector<float> values = random_values(8 * 12, 3);
  for (float& v : values) v = std::round(v * 2.0f);
  const TopK top = topk(Tensor::from_vector(values, Shape{8, 12}), 5);
  const Selection expected = topk_reference(values, 12, 5);
  EXPECT_EQ(top.values.to_vector<float>(), expected.values);
  EXPECT_EQ(top.indices.to_vector<int64_t>(), expected.indices);
}

TEST(TopK, NaNCountsAsTheLargest) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, kNaN, 5, kNaN, -2}, Shape{5});
  const TopK top = topk(x, 4);
  EXPECT_EQ(top.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 2, 0}));
  expect_same_values(top.values.to_vector<float>(), {kNaN, kNaN, 5, 1});
}

TEST(TopK, ZeroAndFullWidth) {
  const std::vector<float> values = random_values(3 * 7, 4);
  const Tensor x = Tensor::from_vector(values, Shape{3, 7});
  const TopK none = topk(x, 0);
  EXPECT_EQ(none.values.shape(), (Shape{3, 0}));
  EXPECT_EQ(none.indices.shape(), (Shape{3, 0}));
  const TopK all = topk(x, 7);
  const Selection expected = topk_reference(values, 7, 7);
  EXPECT_EQ(all.values.to_vector<float>(), expected.values);
  EXPECT_EQ(all.indices.to_vector<int64_t>(), expected.indices);
}

TEST(TopK, HalfPrecisionSelectsLikeSinglePrecisionOnTheSameValues) {
  const Tensor x = Tensor::from_vector(random_values(4 * 10, 5), Shape{4, 10}).to(DType::kBF16);
  const TopK low = topk(x, 3);
  const TopK wide = topk(x.to(DType::kF32), 3);
  EXPECT_EQ(low.values.dtype(), DType::kBF16);
  EXPECT_EQ(low.values.to_vector<float>(), wide.values.to_vector<float>());
  EXPECT_EQ(low.indices.to_vector<int64_t>(), wide.indices.to_vector<int64_t>());
}

TEST(TopK, GradientFlowsOnlyToSelectedPositions) {
  const Tensor x = testing::parameter({0.5, 4, -1, 3, 2, 7, 1, 0}, Shape{2, 4});
  const Tensor upstream = Tensor::from_vector(std::vector<float>{10, 20, 30, 40}, Shape{2, 2});
  topk(x, 2).values.backward(upstream);
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 10, 0, 20, 40, 30, 0, 0}));
}

TEST(TopK, GradientMatchesFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return topk(in[0], 3).values; },
      {testing::random_parameter(Shape{3, 6}, 6)});
}

TEST(TopK, RejectsKOutOfRange) {
  const Tensor x = Tensor::zeros(Shape{2, 5});
  EXPECT_TRUE(testing::throws_error([&] { topk(x, 6); }, {"topk", "k = 6", "[0, 5]", "[2, 5]"}));
  EXPECT_TRUE(testing::throws_error([&] { topk(x, -1); }, {"topk", "k = -1", "[2, 5]"}));
}

TEST(TopK, RejectsIntegerAndScalarInputs) {
  EXPECT_TRUE(testing::throws_error([] { topk(Tensor::zeros(Shape{4}, DType::kI32), 1); },
                                    {"topk", "i32", "[4]"}));
  EXPECT_TRUE(testing::throws_error([] { topk(Tensor::scalar(1.0), 1); }, {"topk", "[]"}));
}

}  // namespace
}  // namespace hive
