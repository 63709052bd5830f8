#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/core/counter_random.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

std::vector<bool> kept_positions(const Tensor& out) {
  std::vector<bool> kept;
  for (float v : out.to_vector<float>()) kept.push_back(v != 0.0f);
  return kept;
}

TEST(Dropout, ZeroProbabilityIsIdentity) {
  const Tensor x = testing::random_tensor(Shape{4, 25}, 1);
  EXPECT_EQ(dropout(x, 0.0f, 99).to_vector<float>(), x.to_vector<float>());
}

TEST(Dropout, DropsAboutAFractionPOfElements) {
  const Tensor x = Tensor::ones(Shape{100000});
  for (float p : {0.1f, 0.5f, 0.9f}) {
    int64_t zeros = 0;
    for (float v : dropout(x, p, 7).to_vector<float>()) zeros += v == 0.0f ? 1 : 0;
    // The standard deviation of the fraction is at most 0.0016; 0.01 is over six of them.
    EXPECT_NEAR(static_cast<double>(zeros) / 100000.0, p, 0.01) << "p = " << p;
  }
}

TEST(Dropout, KeptValuesAreScaledByTheKeepProbability) {
  const Tensor x = testing::random_tensor(Shape{1000}, 2);
  const float p = 0.25f;
  const std::vector<float> in = x.to_vector<float>();
  const std::vector<float> out = dropout(x, p, 3).to_vector<float>();
  int64_t kept = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (out[i] == 0.0f) continue;
    ++kept;
    EXPECT_NEAR(out[i], in[i] / (1.0 - p), 1e-6 * std::abs(in[i])) << "element " << i;
  }
  EXPECT_GT(kept, 0);
}

TEST(Dropout, MaskFollowsTheCounterRandomStream) {
  const Tensor x = Tensor::ones(Shape{5000});
  const float p = 0.3f;
  const uint64_t seed = 1234;
  const std::vector<bool> kept = kept_positions(dropout(x, p, seed));
  for (size_t i = 0; i < kept.size(); ++i) {
    ASSERT_EQ(kept[i], random_uniform(seed, i) >= p) << "element " << i;
  }
}

TEST(Dropout, SameSeedGivesTheSameMask) {
  const Tensor x = testing::random_tensor(Shape{3, 300}, 4);
  EXPECT_EQ(dropout(x, 0.5f, 42).to_vector<float>(), dropout(x, 0.5f, 42).to_vector<float>());
}

TEST(Dropout, DifferentSeedsGiveDifferentMasks) {
  const Tensor x = Tensor::ones(Shape{1000});
  EXPECT_NE(kept_positions(dropout(x, 0.5f, 42)), kept_positions(dropout(x, 0.5f, 43)));
}

TEST(Dropout, HalfPrecisionUsesTheSameMask) {
  const Tensor x = testing::random_tensor(Shape{2000}, 5);
  const std::vector<bool> kept = kept_positions(dropout(x, 0.4f, 6));
  EXPECT_EQ(kept_positions(dropout(x.to(DType::kBF16), 0.4f, 6)), kept);
  EXPECT_EQ(kept_positions(dropout(x.to(DType::kF16), 0.4f, 6)), kept);
}

TEST(Dropout, BackwardZeroesTheSamePositions) {
  const float p = 0.3f;
  const Tensor x = testing::random_parameter(Shape{8, 16}, 7);
  const Tensor out = dropout(x, p, 8);
  const Tensor upstream = testing::random_tensor(Shape{8, 16}, 9);
  out.backward(upstream);
  const std::vector<bool> kept = kept_positions(out);
  const std::vector<float> g = upstream.to_vector<float>();
  std::vector<float> expected;
  for (size_t i = 0; i < g.size(); ++i) {
    expected.push_back(kept[i] ? static_cast<float>(g[i] / (1.0 - p)) : 0.0f);
  }
  testing::expect_close(x.grad(), expected, 1e-6, 1e-6);
}

TEST(Dropout, GradientMatchesFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return dropout(in[0], 0.5f, 10); },
      {testing::random_parameter(Shape{4, 6}, 11)});
}

TEST(Dropout, RejectsProbabilitiesOutsideTheUnitInterval) {
  const Tensor x = Tensor::ones(Shape{4});
  EXPECT_TRUE(testing::throws_error([&] { dropout(x, 1.0f, 0); }, {"dropout", "probability 1"}));
  EXPECT_TRUE(
      testing::throws_error([&] { dropout(x, -0.1f, 0); }, {"dropout", "probability -0.1"}));
  EXPECT_TRUE(testing::throws_error([&] { dropout(x, std::numeric_limits<float>::quiet_NaN(), 0); },
                                    {"dropout", "nan"}));
}

TEST(Dropout, RejectsIntegerInputs) {
  EXPECT_TRUE(testing::throws_error([] { dropout(Tensor::ones(Shape{4}, DType::kI32), 0.5f, 0); },
                                    {"dropout", "i32", "[4]"}));
}

}  // namespace
}  // namespace hive
