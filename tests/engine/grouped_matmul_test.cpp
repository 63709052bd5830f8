// grouped_linear against one linear per group (the same products, so the same numbers), and its
// gradients against finite differences, with empty groups and a group of one row.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr int64_t kIn = 6;
constexpr int64_t kOut = 5;

struct Groups {
  std::vector<int64_t> rows;
  std::vector<Tensor> weights;
  std::vector<Tensor> biases;
};

Groups make_groups(std::vector<int64_t> rows, uint64_t seed) {
  Groups groups{std::move(rows), {}, {}};
  for (size_t g = 0; g < groups.rows.size(); ++g) {
    groups.weights.push_back(testing::random_parameter(Shape{kOut, kIn}, seed + 2 * g));
    groups.biases.push_back(testing::random_parameter(Shape{kOut}, seed + 2 * g + 1));
  }
  return groups;
}

int64_t total_rows(const Groups& groups) {
  int64_t total = 0;
  for (int64_t rows : groups.rows) total += rows;
  return total;
}

Tensor per_group_linear(const Tensor& x, const Groups& groups, bool with_bias) {
  std::vector<Tensor> outputs;
  int64_t begin = 0;
  for (size_t g = 0; g < groups.rows.size(); ++g) {
    const int64_t end = begin + groups.rows[g];
    outputs.push_back(linear(x.rows(begin, end), groups.weights[g],
                             with_bias ? groups.biases[g] : Tensor()));
    begin = end;
  }
  return concat(outputs, 0);
}

TEST(GroupedLinear, EqualsOneLinearPerGroup) {
  const Groups groups = make_groups({3, 0, 1, 7, 0, 4}, 1);
  const Tensor x = testing::random_tensor(Shape{total_rows(groups), kIn}, 20);
  for (bool with_bias : {true, false}) {
    const Tensor grouped = grouped_linear(x, groups.rows, groups.weights,
                                          with_bias ? std::span<const Tensor>(groups.biases)
                                                    : std::span<const Tensor>());
    testing::expect_close(grouped, per_group_linear(x, groups, with_bias), 1e-6, 1e-6);
  }
}

TEST(GroupedLinear, GradientsEqualOneLinearPerGroup) {
  const Groups groups = make_groups({2, 5, 0, 1}, 30);
  const Tensor x = testing::random_parameter(Shape{total_rows(groups), kIn}, 40);
  const Tensor probe = testing::random_tensor(Shape{total_rows(groups), kOut}, 41);

  sum(mul(grouped_linear(x, groups.rows, groups.weights, groups.biases), probe)).backward();
  std::vector<Tensor> grouped_grads{x.grad()};
  for (const Tensor& w : groups.weights) grouped_grads.push_back(w.grad());
  for (const Tensor& b : groups.biases) grouped_grads.push_back(b.grad());
  x.zero_grad();
  for (size_t g = 0; g < groups.rows.size(); ++g) {
    groups.weights[g].zero_grad();
    groups.biases[g].zero_grad();
  }

  sum(mul(per_group_linear(x, groups, true), probe)).backward();
  testing::expect_close(grouped_grads[0], x.grad(), 1e-5, 1e-5);
  for (size_t g = 0; g < groups.rows.size(); ++g) {
    const Tensor& weight_grad = grouped_grads[1 + g];
    const Tensor& bias_grad = grouped_grads[1 + groups.rows.size() + g];
    if (groups.rows[g] == 0) {
      // The per-group path never touches an empty group; the grouped one gives it zeros.
      testing::expect_close(weight_grad, Tensor::zeros(Shape{kOut, kIn}));
      testing::expect_close(bias_grad, Tensor::zeros(Shape{kOut}));
      continue;
    }
    testing::expect_close(weight_grad, groups.weights[g].grad(), 1e-5, 1e-5);
    testing::expect_close(bias_grad, groups.biases[g].grad(), 1e-5, 1e-5);
  }
}

TEST(GroupedLinear, GradientsMatchFiniteDifferences) {
  const std::vector<int64_t> rows{2, 0, 3};
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) {
        const std::vector<Tensor> weights{in[1], in[2], in[3]};
        const std::vector<Tensor> biases{in[4], in[5], in[6]};
        return grouped_linear(in[0], rows, weights, biases);
      },
      {testing::random_parameter(Shape{5, 3}, 50), testing::random_parameter(Shape{2, 3}, 51),
       testing::random_parameter(Shape{2, 3}, 52), testing::random_parameter(Shape{2, 3}, 53),
       testing::random_parameter(Shape{2}, 54), testing::random_parameter(Shape{2}, 55),
       testing::random_parameter(Shape{2}, 56)});
}

TEST(GroupedLinear, Bf16MatchesF32) {
  const Groups groups = make_groups({9, 1, 0, 22}, 60);
  const Tensor x = testing::random_tensor(Shape{total_rows(groups), kIn}, 70);
  const Tensor reference = grouped_linear(x, groups.rows, groups.weights, groups.biases);
  std::vector<Tensor> weights;
  std::vector<Tensor> biases;
  for (size_t g = 0; g < groups.rows.size(); ++g) {
    weights.push_back(groups.weights[g].detach().to(DType::kBF16));
    biases.push_back(groups.biases[g].detach().to(DType::kBF16));
  }
  const Tensor bf16 = grouped_linear(x.to(DType::kBF16), groups.rows, weights, biases);
  testing::expect_close(bf16.to(DType::kF32), reference, 5e-2, 2e-2);
}

TEST(GroupedLinear, RejectsInconsistentGroups) {
  const Groups groups = make_groups({2, 3}, 80);
  const Tensor x = Tensor::zeros(Shape{4, kIn});
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)grouped_linear(x, groups.rows, groups.weights, groups.biases); },
      {"grouped_linear", "5 rows", "[4, 6]"}));
  const std::vector<Tensor> wrong{groups.weights[0], Tensor::zeros(Shape{kOut + 1, kIn})};
  EXPECT_TRUE(testing::throws_error(
      [&] { (void)grouped_linear(Tensor::zeros(Shape{5, kIn}), groups.rows, wrong, {}); },
      {"grouped_linear", "weight 1", "[6, 6]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        (void)grouped_linear(Tensor::zeros(Shape{5, kIn}), groups.rows, groups.weights,
                             std::span<const Tensor>(groups.biases).first(1));
      },
      {"grouped_linear", "1 biases for 2 groups"}));
}

}  // namespace
}  // namespace hive
