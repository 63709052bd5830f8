#include <gtest/gtest.h>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

TEST(Smoke, LinearReluCrossEntropyBackpropagates) {
  const Tensor x = testing::random_parameter(Shape{4, 3}, 1);
  const Tensor w = testing::random_parameter(Shape{5, 3}, 2);
  const Tensor b = testing::random_parameter(Shape{5}, 3);
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 4, 2, 1}, Shape{4});
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) {
        return cross_entropy(relu(linear(in[0], in[1], in[2])), labels);
      },
      {x, w, b});
}

}  // namespace
}  // namespace hive
