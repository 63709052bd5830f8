// The nop and nop_delay experts: the identity, and the identity after a delay.
#include "moe/experts/nop_expert.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "moe/server/expert_backend.h"
#include "tests/engine/test_util.h"

namespace hive::moe {
namespace {

using hive::testing::expect_close;
using hive::testing::random_tensor;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

ExpertBackend make_backend(std::chrono::nanoseconds delay) {
  return ExpertBackend(ExpertUid::parse("nop.0").value(), std::make_unique<NopExpert>(4, delay),
                       {});
}

TEST(NopExpert, ReturnsACopyOfItsInput) {
  ExpertBackend backend = make_backend({});
  const Tensor x = random_tensor(Shape{3, 4}, 1);
  const std::vector<Tensor> outputs = backend.forward(std::vector{x}).value();
  expect_close(outputs[0], x, 0.0, 0.0);
  EXPECT_NE(outputs[0].raw_data(), x.raw_data()) << "the output must not alias the input";
}

TEST(NopExpert, BackwardPassesTheOutputGradientThrough) {
  ExpertBackend backend = make_backend({});
  const Tensor grad_output = random_tensor(Shape{3, 4}, 2);
  const std::vector<Tensor> grads =
      backend.backward(std::vector{random_tensor(Shape{3, 4}, 1)}, std::vector{grad_output})
          .value();
  expect_close(grads[0], grad_output, 0.0, 0.0);
}

TEST(NopDelayExpert, ForwardTakesAtLeastTheDelay) {
  constexpr milliseconds kDelay(50);
  ExpertBackend backend = make_backend(kDelay);
  const Tensor x = random_tensor(Shape{2, 4}, 1);
  const auto start = steady_clock::now();
  ASSERT_TRUE(backend.forward(std::vector{x}).is_ok());
  EXPECT_GE(steady_clock::now() - start, kDelay);
}

TEST(NopDelayExpert, BackwardTakesAtLeastTheDelayToo) {
  constexpr milliseconds kDelay(50);
  ExpertBackend backend = make_backend(kDelay);
  const Tensor x = random_tensor(Shape{2, 4}, 1);
  const auto start = steady_clock::now();
  ASSERT_TRUE(backend.backward(std::vector{x}, std::vector{x}).is_ok());
  EXPECT_GE(steady_clock::now() - start, kDelay) << "backward recomputes forward";
}

TEST(NopDelayExpert, RefusesANegativeDelay) {
  EXPECT_TRUE(hive::testing::throws_error([] { NopExpert expert(4, milliseconds(-1)); },
                                          {"delay of -1000000 ns must not be negative"}));
}

}  // namespace
}  // namespace hive::moe
