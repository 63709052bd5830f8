#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Reference {
  std::vector<float> sum;
  std::vector<float> mean;
  std::vector<float> max;
  std::vector<int64_t> argmax;
};

// Reductions of a contiguous tensor along `axis`, line by line in double.
Reference reduce_reference(const Tensor& x, int axis) {
  const std::vector<float> values = x.to_vector<float>();
  const int64_t outer = x.shape().numel(0, axis);
  const int64_t length = x.shape()[axis];
  const int64_t inner = x.shape().numel(axis + 1, x.rank());
  Reference result;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      double total = 0.0;
      float best = -std::numeric_limits<float>::infinity();
      int64_t best_index = -1;
      for (int64_t j = 0; j < length; ++j) {
        const float v = values[static_cast<size_t>((o * length + j) * inner + i)];
        total += v;
        if (best_index < 0 || v > best) {
          best = v;
          best_index = j;
        }
      }
      result.sum.push_back(static_cast<float>(total));
      result.mean.push_back(static_cast<float>(total / static_cast<double>(length)));
      result.max.push_back(best);
      result.argmax.push_back(best_index);
    }
  }
  return result;
}

Shape reduced(const Shape& shape, int axis, KeepDim keep) {
  return keep == KeepDim::kYes ? shape.with(axis, 1) : shape.without(axis);
}

TEST(Reduction, EveryAxisMatchesHandLoops) {
  const Tensor x = testing::random_tensor(Shape{2, 3, 4}, 1);
  for (int axis = 0; axis < 3; ++axis) {
    const Reference expected = reduce_reference(x, axis);
    for (KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
      SCOPED_TRACE(::testing::Message()
                   << "axis " << axis << (keep == KeepDim::kYes ? " keep" : ""));
      const Shape shape = reduced(x.shape(), axis, keep);
      const Tensor sums = sum(x, axis, keep);
      const Tensor means = mean(x, axis, keep);
      const Tensor maxima = max(x, axis, keep);
      const Tensor indices = argmax(x, axis, keep);
      EXPECT_EQ(sums.shape(), shape);
      EXPECT_EQ(means.shape(), shape);
      EXPECT_EQ(maxima.shape(), shape);
      EXPECT_EQ(indices.shape(), shape);
      EXPECT_EQ(indices.dtype(), DType::kI64);
      testing::expect_close(sums, expected.sum);
      testing::expect_close(means, expected.mean);
      EXPECT_EQ(maxima.to_vector<float>(), expected.max);
      EXPECT_EQ(indices.to_vector<int64_t>(), expected.argmax);
    }
  }
}

TEST(Reduction, NegativeAxisCountsFromTheEnd) {
  const Tensor x = testing::random_tensor(Shape{2, 3, 4}, 2);
  EXPECT_EQ(sum(x, -1).to_vector<float>(), sum(x, 2).to_vector<float>());
  EXPECT_EQ(argmax(x, -3).to_vector<int64_t>(), argmax(x, 0).to_vector<int64_t>());
}

TEST(Reduction, LargeTensorMatchesHandLoops) {
  // Wide enough that the column kernel runs in several blocks and threads.
  const Tensor x = testing::random_tensor(Shape{3, 50, 700}, 3);
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    const Reference expected = reduce_reference(x, axis);
    testing::expect_close(sum(x, axis), expected.sum, 1e-4, 1e-4);
    testing::expect_close(mean(x, axis), expected.mean, 1e-5, 1e-4);
    EXPECT_EQ(argmax(x, axis).to_vector<int64_t>(), expected.argmax);
  }
}

TEST(Reduction, HalfPrecisionSumsAgreeWithSinglePrecision) {
  const Tensor x = testing::random_tensor(Shape{4, 6, 5}, 4).to(DType::kBF16);
  const Tensor widened = x.to(DType::kF32);
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    const Tensor out = sum(x, axis);
    EXPECT_EQ(out.dtype(), DType::kBF16);
    testing::expect_close(out, sum(widened, axis), 1e-2, 1e-2);
    EXPECT_EQ(max(x, axis).to_vector<float>(), max(widened, axis).to_vector<float>());
  }
}

TEST(Reduction, MaxTiesPickTheFirstIndex) {
  const Tensor rows = Tensor::from_vector(std::vector<float>{1, 3, 3, 2, 5, 5, 5, 5}, Shape{2, 4});
  EXPECT_EQ(argmax(rows, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  const Tensor columns = Tensor::from_vector(std::vector<float>{4, 2, 4, 7}, Shape{2, 2});
  EXPECT_EQ(argmax(columns, 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(Reduction, MaxPropagatesNaN) {
  const Tensor x =
      Tensor::from_vector(std::vector<float>{1, kNaN, 3, 5, 2, kNaN, kNaN, kNaN, 0}, Shape{3, 3});
  const std::vector<float> maxima = max(x, 1).to_vector<float>();
  for (float value : maxima) EXPECT_TRUE(std::isnan(value));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 0}));
}

TEST(Reduction, SumAndMeanOfAllElements) {
  const Tensor x = Tensor::arange(24, DType::kF32).reshape(Shape{2, 3, 4});
  const Tensor total = sum(x);
  const Tensor average = mean(x);
  EXPECT_EQ(total.rank(), 0);
  EXPECT_EQ(average.rank(), 0);
  EXPECT_FLOAT_EQ(total.item<float>(), 276.0f);
  EXPECT_FLOAT_EQ(average.item<float>(), 11.5f);
}

TEST(Reduction, SumOverAnEmptyAxisIsZero) {
  const Tensor out = sum(Tensor::zeros(Shape{2, 0, 3}), 1);
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  testing::expect_close(out, std::vector<float>(6, 0.0f));
  EXPECT_FLOAT_EQ(sum(Tensor::zeros(Shape{0})).item<float>(), 0.0f);
}

TEST(Reduction, MeanOverAnEmptyAxisIsNaN) {
  const std::vector<float> lines = mean(Tensor::zeros(Shape{2, 0}), 1).to_vector<float>();
  const std::vector<float> columns = mean(Tensor::zeros(Shape{0, 3}), 0).to_vector<float>();
  ASSERT_EQ(lines.size(), 2u);
  ASSERT_EQ(columns.size(), 3u);
  for (float value : lines) EXPECT_TRUE(std::isnan(value));
  for (float value : columns) EXPECT_TRUE(std::isnan(value));
}

TEST(Reduction, SumAndMeanGradientsMatchFiniteDifferences) {
  const Tensor x = testing::random_parameter(Shape{2, 3, 4}, 5);
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    testing::expect_gradients_match(
        [axis](const std::vector<Tensor>& in) { return sum(in[0], axis); }, {x});
    testing::expect_gradients_match(
        [axis](const std::vector<Tensor>& in) { return mean(in[0], axis, KeepDim::kYes); }, {x});
  }
  testing::expect_gradients_match([](const std::vector<Tensor>& in) { return sum(in[0]); }, {x});
  testing::expect_gradients_match([](const std::vector<Tensor>& in) { return mean(in[0]); }, {x});
}

TEST(Reduction, MaxGradientsMatchFiniteDifferences) {
  const Tensor x = testing::random_parameter(Shape{2, 3, 4}, 6);
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    for (KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
      testing::expect_gradients_match(
          [axis, keep](const std::vector<Tensor>& in) { return max(in[0], axis, keep); }, {x});
    }
  }
}

TEST(Reduction, MaxGradientGoesToTheFirstMaximum) {
  const Tensor x = testing::parameter({2, 7, 7, 1, 3, 3}, Shape{2, 3});
  max(x, 1).backward(Tensor::from_vector(std::vector<float>{10, 20}, Shape{2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 10, 0, 0, 20, 0}));
}

TEST(Reduction, RejectsAxisOutOfRange) {
  const Tensor x = Tensor::zeros(Shape{2, 3, 4});
  EXPECT_TRUE(testing::throws_error([&] { sum(x, 3); }, {"sum", "axis 3", "[2, 3, 4]"}));
  EXPECT_TRUE(testing::throws_error([&] { mean(x, -4); }, {"mean", "axis -4", "[2, 3, 4]"}));
  EXPECT_TRUE(testing::throws_error([&] { max(x, 5); }, {"max", "axis 5", "[2, 3, 4]"}));
  EXPECT_TRUE(testing::throws_error([&] { argmax(x, 3); }, {"axis 3", "[2, 3, 4]"}));
  EXPECT_TRUE(testing::throws_error([] { sum(Tensor::scalar(1.0), 0); }, {"sum", "[]"}));
}

TEST(Reduction, RejectsMaxOverAnEmptyAxis) {
  const Tensor x = Tensor::zeros(Shape{2, 0});
  EXPECT_TRUE(testing::throws_error([&] { max(x, 1); }, {"max", "axis 1", "[2, 0]"}));
  EXPECT_TRUE(testing::throws_error([&] { argmax(x, 1); }, {"axis 1", "[2, 0]"}));
}

TEST(Reduction, RejectsIntegerInputs) {
  EXPECT_TRUE(testing::throws_error([] { sum(Tensor::zeros(Shape{3}, DType::kI32), 0); },
                                    {"sum", "i32", "[3]"}));
}

}  // namespace
}  // namespace hive
