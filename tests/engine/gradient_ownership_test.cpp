// Autograd hands a fresh gradient buffer to a leaf instead of copying it, and sums gradients in
// place. These tests pin down that this never lets two tensors share one gradient buffer, and
// never lets a leaf's .grad alias a tensor the caller can see.
#include <gtest/gtest.h>

#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

TEST(GradientOwnership, LeavesOfOneAddGetSeparateBuffers) {
  // add's backward passes the same gradient tensor to both of its inputs.
  const Tensor a = testing::parameter({1.0f, 2.0f}, Shape{2});
  const Tensor b = testing::parameter({3.0f, 4.0f}, Shape{2});
  sum(add(a, b)).backward();
  ASSERT_TRUE(a.grad().defined() && b.grad().defined());
  EXPECT_NE(a.grad().raw_data(), b.grad().raw_data());
  scale_(a.grad(), 10.0f);
  testing::expect_close(b.grad(), {1.0f, 1.0f});
}

TEST(GradientOwnership, LeafGradientDoesNotAliasTheCallersGradient) {
  // reshape's backward returns a view of the gradient the caller passed in.
  const Tensor x = testing::parameter({1.0f, 2.0f, 3.0f, 4.0f}, Shape{4});
  const Tensor gradient = Tensor::from_vector(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}, Shape{2, 2});
  x.reshape(Shape{2, 2}).backward(gradient);
  EXPECT_NE(x.grad().raw_data(), gradient.raw_data());
  scale_(x.grad(), 0.0f);
  testing::expect_close(gradient, {1.0f, 2.0f, 3.0f, 4.0f});
}

TEST(GradientOwnership, SecondBackwardAddsIntoTheSameBuffer) {
  const Tensor x = testing::parameter({1.0f, -1.0f}, Shape{2});
  sum(scale(x, 3.0f)).backward();
  const void* first_buffer = x.grad().raw_data();
  sum(scale(x, 3.0f)).backward();
  EXPECT_EQ(x.grad().raw_data(), first_buffer);
  testing::expect_close(x.grad(), {6.0f, 6.0f});
}

TEST(GradientOwnership, HeldGradientSurvivesZeroGradAndTheNextPass) {
  const Tensor x = testing::parameter({2.0f}, Shape{1});
  sum(scale(x, 3.0f)).backward();
  const Tensor first = x.grad();  // the caller keeps it, e.g. to log it
  x.zero_grad();
  sum(x).backward();
  testing::expect_close(x.grad(), {1.0f});
  testing::expect_close(first, {3.0f});
}

TEST(GradientOwnership, IsUniquelyOwnedSeesHandlesAndViews) {
  const Tensor t = Tensor::zeros(Shape{4});
  EXPECT_TRUE(t.is_uniquely_owned());
  {
    const Tensor copy = t;
    EXPECT_FALSE(t.is_uniquely_owned());
  }
  {
    const Tensor view = t.reshape(Shape{2, 2});
    EXPECT_FALSE(t.is_uniquely_owned());
  }
  EXPECT_TRUE(t.is_uniquely_owned());
}

}  // namespace
}  // namespace hive
