// The autograd tape: accumulation, shared subexpressions, grad mode, graph lifetime and views.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

TEST(Autograd, GradientAccumulatesOverBackwardPassesAndZeroGradResets) {
  const Tensor x = testing::parameter({1.0f, -2.0f, 3.0f}, Shape{3});
  const Tensor c = Tensor::from_vector(std::vector<float>{0.5f, 4.0f, -1.0f}, Shape{3});
  sum(mul(x, c)).backward();
  sum(mul(x, c)).backward();
  testing::expect_close(x.grad(), {1.0f, 8.0f, -2.0f});

  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(mul(x, c)).backward();
  testing::expect_close(x.grad(), {0.5f, 4.0f, -1.0f});
}

TEST(Autograd, TensorUsedTwiceGetsSummedGradient) {
  const Tensor x = testing::parameter({1.5f, -2.0f, 0.25f}, Shape{3});
  sum(mul(x, x)).backward();
  testing::expect_close(x.grad(), {3.0f, -4.0f, 0.5f});
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  // a = x + 1 feeds a * a and a itself: dL/dx = 2 (x + 1) + 1.
  const Tensor x = testing::parameter({0.5f, -3.0f, 2.0f}, Shape{3});
  const Tensor a = add_scalar(x, 1.0f);
  sum(add(mul(a, a), a)).backward();
  testing::expect_close(x.grad(), {4.0f, -3.0f, 7.0f});
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  const Tensor x = testing::random_parameter(Shape{2, 3}, 1);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = exp(mul(x, x));
  }
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_FALSE(y.requires_grad());
}

TEST(Autograd, NoGradGuardRestoresPreviousMode) {
  ASSERT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard outer;
    {
      NoGradGuard inner;
      EXPECT_FALSE(GradMode::is_enabled());
    }
    EXPECT_FALSE(GradMode::is_enabled());
  }
  EXPECT_TRUE(GradMode::is_enabled());
}

TEST(Autograd, TensorsWithoutGradCarryNoAutogradState) {
  Generator generator(2);
  const Tensor a = Tensor::randn(Shape{3, 4}, generator);
  const Tensor b = Tensor::randn(Shape{4, 2}, generator);
  const Tensor y = sum(tanh(add_scalar(matmul(a, b), 1.0f)).reshape(Shape{2, 3}).rows(0, 1));
  EXPECT_EQ(a.autograd_meta(), nullptr);
  EXPECT_EQ(b.autograd_meta(), nullptr);
  EXPECT_EQ(y.autograd_meta(), nullptr);
}

TEST(Autograd, SecondBackwardWithoutRetainGraphThrows) {
  const Tensor x = testing::parameter({1.0f, 2.0f}, Shape{2});
  const Tensor loss = sum(mul(x, x));
  loss.backward();
  EXPECT_TRUE(testing::throws_error([&] { loss.backward(); }, {"RetainGraph"}));
}

TEST(Autograd, RetainGraphAllowsSecondBackward) {
  const Tensor x = testing::parameter({1.0f, 2.0f}, Shape{2});
  const Tensor loss = sum(mul(x, x));
  loss.backward(Tensor(), RetainGraph::kYes);
  loss.backward();
  testing::expect_close(x.grad(), {4.0f, 8.0f});
}

TEST(Autograd, BackwardOfNonScalarWithoutGradientThrows) {
  const Tensor x = testing::random_parameter(Shape{2, 2}, 3);
  const Tensor y = mul(x, x);
  EXPECT_TRUE(testing::throws_error([&] { y.backward(); }, {"backward", "[2, 2]"}));
}

TEST(Autograd, DeepChainBackpropagatesAndFreesWithoutStackOverflow) {
  // Deep enough that a recursive backward walk or a recursive teardown of the graph would
  // overflow an 8 MiB stack.
  constexpr int kDepth = 100000;
  const Tensor x = testing::parameter({0.0f, 1.0f}, Shape{2});
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = add_scalar(y, 1.0f);
  sum(y).backward();
  testing::expect_close(y, {static_cast<float>(kDepth), static_cast<float>(kDepth + 1)});
  testing::expect_close(x.grad(), {1.0f, 1.0f});
}

TEST(Autograd, SetRequiresGradOnNonLeafThrows) {
  const Tensor x = testing::random_parameter(Shape{3}, 4);
  const Tensor y = exp(x);
  EXPECT_TRUE(testing::throws_error([&] { y.set_requires_grad(RequiresGrad::kYes); },
                                    {"set_requires_grad", "leaf"}));
}

TEST(Autograd, DroppedParameterDoesNotBreakBackward) {
  const Tensor kept = testing::parameter({1.0f, 2.0f}, Shape{2});
  Tensor loss;
  {
    const Tensor dropped = testing::parameter({3.0f, -5.0f}, Shape{2});
    loss = sum(mul(kept, dropped));
  }
  loss.backward();
  testing::expect_close(kept.grad(), {3.0f, -5.0f});
}

TEST(Autograd, ReshapeAndRowsViewsPropagateIntoBaseLeaf) {
  // x [4, 3] viewed as [3, 4], rows 1..3: the probe lands on flat positions 4..11 of x.
  const Tensor x = testing::random_parameter(Shape{4, 3}, 5);
  std::vector<float> probe(8);
  for (size_t i = 0; i < probe.size(); ++i) probe[i] = static_cast<float>(i) - 3.5f;
  const Tensor view = x.reshape(Shape{3, 4}).rows(1, 3);
  sum(mul(view, Tensor::from_vector(probe, Shape{2, 4}))).backward();
  std::vector<float> expected(12, 0.0f);
  std::copy(probe.begin(), probe.end(), expected.begin() + 4);
  testing::expect_close(x.grad(), expected);
}

TEST(Autograd, DTypeRoundTripPropagatesGradients) {
  // The gradient flows back through a bf16 cast, so the probe uses bf16-exact values.
  const Tensor x = testing::parameter({0.3f, -1.7f, 2.9f}, Shape{3});
  const Tensor round_trip = x.to(DType::kBF16).to(DType::kF32);
  const Tensor probe = Tensor::from_vector(std::vector<float>{0.5f, -2.0f, 3.0f}, Shape{3});
  sum(mul(round_trip, probe)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::kF32);
  testing::expect_close(x.grad(), {0.5f, -2.0f, 3.0f}, 0.0, 0.0);
}

}  // namespace
}  // namespace hive
