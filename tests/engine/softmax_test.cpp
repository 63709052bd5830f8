#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

// Softmax (or log-softmax) of x along `axis`, line by line in double.
std::vector<float> softmax_reference(const Tensor& x, int axis, bool log_space) {
  const std::vector<float> values = x.to_vector<float>();
  const int64_t outer = x.shape().numel(0, axis);
  const int64_t length = x.shape()[axis];
  const int64_t inner = x.shape().numel(axis + 1, x.rank());
  std::vector<float> out(values.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return static_cast<size_t>((o * length + j) * inner + i); };
      double max_value = values[at(0)];
      for (int64_t j = 1; j < length; ++j) max_value = std::max<double>(max_value, values[at(j)]);
      double total = 0.0;
      for (int64_t j = 0; j < length; ++j) total += std::exp(values[at(j)] - max_value);
      for (int64_t j = 0; j < length; ++j) {
        const double shifted = values[at(j)] - max_value;
        out[at(j)] =
            static_cast<float>(log_space ? shifted - std::log(total) : std::exp(shifted) / total);
      }
    }
  }
  return out;
}

TEST(Softmax, EveryAxisMatchesDoubleReference) {
  const Tensor x = testing::random_tensor(Shape{2, 3, 4}, 1, 2.0f);
  for (int axis : {-1, 0, 1, 2}) {
    SCOPED_TRACE(axis);
    const int positive_axis = axis < 0 ? axis + 3 : axis;
    testing::expect_close(softmax(x, axis), softmax_reference(x, positive_axis, false), 1e-6, 1e-5);
    testing::expect_close(log_softmax(x, axis), softmax_reference(x, positive_axis, true), 1e-5,
                          1e-5);
  }
}

TEST(Softmax, DefaultsToTheLastAxis) {
  const Tensor x = testing::random_tensor(Shape{3, 5}, 2);
  EXPECT_EQ(softmax(x).to_vector<float>(), softmax(x, 1).to_vector<float>());
  EXPECT_EQ(log_softmax(x).to_vector<float>(), log_softmax(x, 1).to_vector<float>());
}

TEST(Softmax, RowsSumToOne) {
  const Tensor x = testing::random_tensor(Shape{6, 37}, 3, 4.0f);
  const std::vector<float> probabilities = softmax(x).to_vector<float>();
  for (int64_t row = 0; row < 6; ++row) {
    double total = 0.0;
    for (int64_t c = 0; c < 37; ++c) {
      const float p = probabilities[static_cast<size_t>(row * 37 + c)];
      EXPECT_GE(p, 0.0f);
      total += p;
    }
    EXPECT_NEAR(total, 1.0, 1e-5) << "row " << row;
  }
}

TEST(Softmax, LargeLogitsStayFinite) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1000, 999, 0, -1000}, Shape{1, 4});
  const double tail = std::log1p(std::exp(-1.0));  // log(1 + e^-1): the two leaders share the mass
  testing::expect_close(softmax(x),
                        {static_cast<float>(1.0 / (1.0 + std::exp(-1.0))),
                         static_cast<float>(std::exp(-1.0) / (1.0 + std::exp(-1.0))), 0.0f, 0.0f});
  testing::expect_close(log_softmax(x),
                        {static_cast<float>(-tail), static_cast<float>(-1.0 - tail),
                         static_cast<float>(-1000.0 - tail), static_cast<float>(-2000.0 - tail)},
                        1e-4, 1e-6);
}

TEST(Softmax, HalfPrecisionAgreesWithSinglePrecision) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    const Tensor x = testing::random_tensor(Shape{3, 2, 5}, 4).to(dtype);
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " axis " << axis);
      const Tensor probabilities = softmax(x, axis);
      EXPECT_EQ(probabilities.dtype(), dtype);
      testing::expect_close(probabilities, softmax(x.to(DType::kF32), axis), 1e-2, 1e-2);
      testing::expect_close(log_softmax(x, axis), log_softmax(x.to(DType::kF32), axis), 1e-2, 1e-2);
    }
  }
}

TEST(Softmax, GradientsMatchFiniteDifferences) {
  const Tensor x = testing::random_parameter(Shape{2, 3, 4}, 5);
  for (int axis : {0, 1, 2}) {
    SCOPED_TRACE(axis);
    testing::expect_gradients_match(
        [axis](const std::vector<Tensor>& in) { return softmax(in[0], axis); }, {x});
    testing::expect_gradients_match(
        [axis](const std::vector<Tensor>& in) { return log_softmax(in[0], axis); }, {x});
  }
}

TEST(Softmax, RejectsBadArguments) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        softmax(Tensor::zeros(Shape{2, 3}), 2);
      },
      {"softmax", "axis 2", "[2, 3]"}));
  EXPECT_TRUE(testing::throws_error([] { log_softmax(Tensor::zeros(Shape{2}, DType::kI64)); },
                                    {"log_softmax", "i64", "[2]"}));
  EXPECT_TRUE(testing::throws_error([] { softmax(Tensor::scalar(1.0)); }, {"softmax", "[]"}));
}

TEST(CrossEntropy, MatchesHandComputedValue) {
  const Tensor logits = Tensor::from_vector(std::vector<float>{1, 2, 3, 1, 1, 1}, Shape{2, 3});
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{2, 0}, Shape{2});
  // Row 0: logsumexp(1, 2, 3) - 3; row 1: logsumexp(1, 1, 1) - 1 = log 3.
  const double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  const double row1 = std::log(3.0);
  const Tensor loss = cross_entropy(logits, labels);
  EXPECT_EQ(loss.rank(), 0);
  EXPECT_EQ(loss.dtype(), DType::kF32);
  EXPECT_NEAR(loss.item<float>(), (row0 + row1) / 2.0, 1e-6);
}

TEST(CrossEntropy, EqualsMeanNegativeLogSoftmaxOfTheLabels) {
  const Tensor logits = testing::random_tensor(Shape{6, 5}, 6, 3.0f);
  const std::vector<int32_t> labels{4, 0, 2, 2, 1, 3};
  const std::vector<float> log_probabilities = log_softmax(logits).to_vector<float>();
  double expected = 0.0;
  for (size_t row = 0; row < labels.size(); ++row) {
    expected -= log_probabilities[row * 5 + static_cast<size_t>(labels[row])];
  }
  expected /= static_cast<double>(labels.size());
  const Tensor label_tensor = Tensor::from_vector(labels, Shape{6});
  EXPECT_NEAR(cross_entropy(logits, label_tensor).item<float>(), expected, 1e-5);
  EXPECT_NEAR(cross_entropy(logits, label_tensor.to(DType::kI64)).item<float>(), expected, 1e-5);
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  const Tensor logits = Tensor::from_vector(std::vector<float>{1000, 0, -1000, 0}, Shape{2, 2});
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 0}, Shape{2});
  // Each label sits 1000 below its row's leader, so each row costs 1000 (up to e^-1000).
  EXPECT_NEAR(cross_entropy(logits, labels).item<float>(), 1000.0, 1e-3);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 0, 3, 1}, Shape{4});
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); },
      {testing::random_parameter(Shape{4, 5}, 7)});
}

TEST(CrossEntropy, GradientIsSoftmaxMinusOneHotOverRows) {
  const Tensor logits = testing::random_parameter(Shape{3, 4}, 8);
  const std::vector<int64_t> labels{3, 0, 1};
  cross_entropy(logits, Tensor::from_vector(labels, Shape{3})).backward();
  std::vector<float> expected = softmax_reference(logits.detach(), 1, false);
  for (size_t row = 0; row < labels.size(); ++row) {
    expected[row * 4 + static_cast<size_t>(labels[row])] -= 1.0f;
  }
  for (float& value : expected) value /= 3.0f;
  testing::expect_close(logits.grad(), expected, 1e-6, 1e-5);
}

TEST(CrossEntropy, HalfPrecisionLogitsAgreeWithSinglePrecision) {
  const Tensor logits = testing::random_tensor(Shape{5, 7}, 9).to(DType::kBF16);
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{6, 0, 3, 3, 1}, Shape{5});
  EXPECT_NEAR(cross_entropy(logits, labels).item<float>(),
              cross_entropy(logits.to(DType::kF32), labels).item<float>(), 1e-5);
}

TEST(CrossEntropy, RejectsLabelsOutOfRange) {
  const Tensor logits = Tensor::zeros(Shape{2, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{0, 3}, Shape{2}));
      },
      {"cross_entropy", "index 3", "position 1", "[0, 3)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        cross_entropy(logits, Tensor::from_vector(std::vector<int32_t>{-1, 0}, Shape{2}));
      },
      {"cross_entropy", "index -1", "position 0"}));
}

TEST(CrossEntropy, RejectsNonIndexLabels) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        cross_entropy(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{2}));
      },
      {"cross_entropy", "labels", "f32", "i32 or i64"}));
}

TEST(CrossEntropy, RejectsWrongRanks) {
  const Tensor labels = Tensor::zeros(Shape{2}, DType::kI64);
  EXPECT_TRUE(testing::throws_error(
      [&] {
        cross_entropy(Tensor::zeros(Shape{2, 3, 4}), labels);
      },
      {"cross_entropy", "logits", "[2, 3, 4]"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        cross_entropy(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{2, 1}, DType::kI64));
      },
      {"cross_entropy", "labels", "[2, 1]"}));
}

TEST(CrossEntropy, RejectsRowCountMismatch) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        cross_entropy(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3}, DType::kI64));
      },
      {"cross_entropy", "3 labels", "2 rows", "[2, 3]"}));
}

TEST(CrossEntropy, RejectsNoRows) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        cross_entropy(Tensor::zeros(Shape{0, 3}), Tensor::zeros(Shape{0}, DType::kI64));
      },
      {"cross_entropy", "[0, 3]"}));
}

}  // namespace
}  // namespace hive
