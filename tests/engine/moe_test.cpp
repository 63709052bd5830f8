// The local Mixture-of-Experts layer: grid scoring, dispatch/combine, and the whole layer against
// a naive loop that routes one row at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/nn/ffn_expert.h"
#include "engine/nn/mixture_of_experts.h"
#include "engine/nn/moe_dispatch.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

// The coordinates of `expert` on `grid`, row-major (the last dimension varies fastest).
std::vector<int64_t> coordinates(int64_t expert, const std::vector<int64_t>& grid) {
  std::vector<int64_t> coords(grid.size());
  for (size_t d = grid.size(); d-- > 0;) {
    coords[d] = expert % grid[d];
    expert /= grid[d];
  }
  return coords;
}

int64_t expert_count(const std::vector<int64_t>& grid) {
  int64_t count = 1;
  for (int64_t size : grid) count *= size;
  return count;
}

// Where dimension d's scores start in a row of dimension scores.
std::vector<int64_t> dimension_offsets(const std::vector<int64_t>& grid) {
  std::vector<int64_t> offsets(grid.size(), 0);
  for (size_t d = 1; d < grid.size(); ++d) offsets[d] = offsets[d - 1] + grid[d - 1];
  return offsets;
}

// Expert scores of one row, in double, from that row's per-coordinate scores.
std::vector<double> expert_scores(const std::vector<double>& dimension_scores,
                                  const std::vector<int64_t>& grid) {
  const std::vector<int64_t> offsets = dimension_offsets(grid);
  std::vector<double> scores(static_cast<size_t>(expert_count(grid)), 0.0);
  for (int64_t e = 0; e < expert_count(grid); ++e) {
    const std::vector<int64_t> coords = coordinates(e, grid);
    for (size_t d = 0; d < grid.size(); ++d) {
      scores[static_cast<size_t>(e)] += dimension_scores[static_cast<size_t>(offsets[d] + coords[d])];
    }
  }
  return scores;
}

std::shared_ptr<nn::UnaryModule> make_ffn(int64_t hidden, Generator& generator) {
  return std::make_shared<nn::FeedForwardExpert>(hidden, generator);
}

nn::MixtureOfExperts make_moe(int64_t hidden, std::vector<int64_t> grid, int64_t k, uint64_t seed) {
  Generator generator(seed);
  return nn::MixtureOfExperts(
      nn::MoeConfig{hidden, std::move(grid), k},
      [hidden](int64_t, Generator& g) { return make_ffn(hidden, g); }, generator);
}

std::map<std::string, Tensor> params_by_name(const nn::Module& module) {
  const nn::NamedTensors named = module.named_parameters();
  return {named.begin(), named.end()};
}

// The reference router: each row's gate scores in double, experts ranked with std::sort (ties
// to the lower index), the best k kept, softmax weights in double.
struct RowRoute {
  std::vector<int64_t> experts;
  std::vector<double> scores;
  std::vector<double> weights;
};

std::vector<RowRoute> reference_routes(nn::MixtureOfExperts& moe, const Tensor& x) {
  const std::map<std::string, Tensor> params = params_by_name(moe);
  const std::vector<float> w = params.at("gate.weight").to_vector<float>();
  const std::vector<float> b = params.at("gate.bias").to_vector<float>();
  const std::vector<float> input = x.to_vector<float>();
  const int64_t rows = x.size(0);
  const int64_t in = x.size(1);
  const auto outs = static_cast<int64_t>(b.size());
  std::vector<RowRoute> routes;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> dimension_scores(static_cast<size_t>(outs));
    for (int64_t o = 0; o < outs; ++o) {
      double total = b[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) {
        total += static_cast<double>(input[static_cast<size_t>(r * in + i)]) *
                 w[static_cast<size_t>(o * in + i)];
      }
      dimension_scores[static_cast<size_t>(o)] = total;
    }
    const std::vector<double> scores = expert_scores(dimension_scores, moe.config().grid);
    std::vector<int64_t> order(scores.size());
    for (size_t e = 0; e < order.size(); ++e) order[e] = static_cast<int64_t>(e);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
      const double sa = scores[static_cast<size_t>(a)];
      const double sc = scores[static_cast<size_t>(c)];
      return sa > sc || (sa == sc && a < c);
    });
    RowRoute route;
    route.experts.assign(order.begin(), order.begin() + moe.config().k);
    double denominator = 0.0;
    for (int64_t e : route.experts) {
      route.scores.push_back(scores[static_cast<size_t>(e)]);
      denominator += std::exp(route.scores.back() - route.scores.front());
    }
    for (double score : route.scores) {
      route.weights.push_back(std::exp(score - route.scores.front()) / denominator);
    }
    routes.push_back(std::move(route));
  }
  return routes;
}

// The layer's output computed row by row: each chosen expert runs on that single row [1, d].
std::vector<float> naive_forward(nn::MixtureOfExperts& moe, const Tensor& x,
                                 const std::vector<RowRoute>& routes) {
  NoGradGuard no_grad;
  std::vector<float> out;
  for (int64_t r = 0; r < x.size(0); ++r) {
    const RowRoute& route = routes[static_cast<size_t>(r)];
    std::vector<double> row(static_cast<size_t>(x.size(1)), 0.0);
    for (size_t j = 0; j < route.experts.size(); ++j) {
      const std::vector<float> answer = moe.expert(route.experts[j]).forward(x.rows(r, r + 1)).to_vector<float>();
      for (size_t c = 0; c < row.size(); ++c) row[c] += route.weights[j] * answer[c];
    }
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// The same loop built from differentiable elementary ops (no topk, softmax or dispatch), so
// backpropagating it gives reference gradients for the gate, the experts and the input.
Tensor naive_differentiable(nn::MixtureOfExperts& moe, const Tensor& x,
                            const std::vector<RowRoute>& routes) {
  const std::map<std::string, Tensor> params = params_by_name(moe);
  const std::vector<int64_t>& grid = moe.config().grid;
  const std::vector<int64_t> offsets = dimension_offsets(grid);
  std::vector<Tensor> rows;
  for (int64_t r = 0; r < x.size(0); ++r) {
    const RowRoute& route = routes[static_cast<size_t>(r)];
    const Tensor x_row = x.rows(r, r + 1);
    const Tensor dimension_scores =
        linear(x_row, params.at("gate.weight"), params.at("gate.bias")).flatten();
    std::vector<Tensor> chosen_scores;
    for (int64_t e : route.experts) {
      const std::vector<int64_t> coords = coordinates(e, grid);
      Tensor score = dimension_scores.rows(offsets[0] + coords[0], offsets[0] + coords[0] + 1);
      for (size_t d = 1; d < grid.size(); ++d) {
        score = add(score, dimension_scores.rows(offsets[d] + coords[d], offsets[d] + coords[d] + 1));
      }
      chosen_scores.push_back(score);
    }
    // Shifting by a constant leaves softmax unchanged; it only keeps exp() in range.
    const Tensor exps = exp(add_scalar(concat(chosen_scores, 0), -static_cast<float>(route.scores[0])));
    const Tensor weights = div(exps, sum(exps));
    Tensor row;
    for (size_t j = 0; j < route.experts.size(); ++j) {
      const auto slot = static_cast<int64_t>(j);
      const Tensor term = mul(weights.rows(slot, slot + 1), moe.expert(route.experts[j]).forward(x_row));
      row = row.defined() ? add(row, term) : term;
    }
    rows.push_back(row);
  }
  return concat(rows, 0);
}

struct Gradients {
  std::map<std::string, Tensor> params;  // undefined where a parameter got no gradient
  Tensor input;
};

Gradients collect_gradients(const nn::Module& module, const Tensor& x) {
  Gradients grads;
  for (const auto& [name, param] : module.named_parameters()) {
    grads.params[name] = param.grad().defined() ? param.grad().clone() : Tensor();
  }
  grads.input = x.grad().clone();
  return grads;
}

TEST(GridScores, MatchesBruteForceSumOfCoordinateScores) {
  for (const std::vector<int64_t>& grid :
       {std::vector<int64_t>{5}, std::vector<int64_t>{3, 4}, std::vector<int64_t>{2, 3, 2}}) {
    constexpr int64_t kRows = 3;
    const std::vector<int64_t> offsets = dimension_offsets(grid);
    const int64_t width = offsets.back() + grid.back();
    Generator generator(1);
    const Tensor dimension_scores = Tensor::randn(Shape{kRows, width}, generator);
    const std::vector<float> values = dimension_scores.to_vector<float>();
    std::vector<float> expected;
    for (int64_t r = 0; r < kRows; ++r) {
      const std::vector<double> row(values.begin() + r * width, values.begin() + (r + 1) * width);
      for (double score : expert_scores(row, grid)) expected.push_back(static_cast<float>(score));
    }
    const Tensor scores = nn::grid_scores(dimension_scores, grid);
    ASSERT_EQ(scores.shape(), (Shape{kRows, expert_count(grid)}));
    testing::expect_close(scores, expected, 1e-6, 1e-6);
  }
}

TEST(MoePlan, GroupsPairsByExpertWithRowsAscending) {
  // Rows choose experts {2, 0}, {1, 2}, {2, 1}; expert 3 gets nothing.
  const Tensor indices = Tensor::from_vector(std::vector<int64_t>{2, 0, 1, 2, 2, 1}, Shape{3, 2});
  const MoePlan plan = moe_plan(indices, 4);
  EXPECT_EQ(plan.rows, 3);
  EXPECT_EQ(plan.k, 2);
  EXPECT_EQ(plan.expert_counts, (std::vector<int64_t>{1, 2, 3, 0}));
  EXPECT_EQ(plan.source_rows.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(plan.choice_slots.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 5, 0, 3, 4}));
  EXPECT_EQ(plan.slot_positions.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 1, 4, 5, 2}));
}

TEST(MoePlan, ChoiceSlotsPointBackAtTheirRowAndExpert) {
  constexpr int64_t kRows = 20;
  constexpr int64_t kK = 3;
  constexpr int64_t kExperts = 7;
  Generator generator(2);
  std::vector<int64_t> chosen;
  for (int64_t i = 0; i < kRows * kK; ++i) {
    chosen.push_back(static_cast<int64_t>(generator.next_below(kExperts)));
  }
  const MoePlan plan =
      moe_plan(Tensor::from_vector(chosen, Shape{kRows, kK}), kExperts);
  const std::vector<int64_t> source_rows = plan.source_rows.to_vector<int64_t>();
  const std::vector<int64_t> slots = plan.choice_slots.to_vector<int64_t>();
  ASSERT_EQ(slots.size(), chosen.size());
  EXPECT_EQ(std::set<int64_t>(slots.begin(), slots.end()).size(), slots.size());
  size_t position = 0;
  for (int64_t e = 0; e < kExperts; ++e) {
    for (int64_t i = 0; i < plan.expert_counts[static_cast<size_t>(e)]; ++i, ++position) {
      const int64_t slot = slots[position];
      EXPECT_EQ(chosen[static_cast<size_t>(slot)], e) << "position " << position;
      EXPECT_EQ(source_rows[position], slot / kK) << "position " << position;
      if (i > 0) {
        EXPECT_LE(source_rows[position - 1], source_rows[position]);
      }
    }
  }
  EXPECT_EQ(position, chosen.size());
}

TEST(MoePlan, RejectsOutOfRangeExpertIds) {
  for (int64_t bad : {int64_t{-1}, int64_t{4}}) {
    const Tensor indices = Tensor::from_vector(std::vector<int64_t>{0, 1, bad, 2}, Shape{2, 2});
    EXPECT_TRUE(testing::throws_error([&] { (void)moe_plan(indices, 4); },
                                      {"moe_plan", std::to_string(bad), "out of range"}));
  }
}

TEST(DispatchCombine, IdentityExpertsGiveWeightedSumOfRows) {
  constexpr int64_t kRows = 6;
  constexpr int64_t kDim = 3;
  Generator generator(3);
  const Tensor x = Tensor::randn(Shape{kRows, kDim}, generator);
  const Tensor weights = Tensor::rand(Shape{kRows, 2}, generator);
  const Tensor indices =
      Tensor::from_vector(std::vector<int64_t>{0, 3, 3, 1, 2, 0, 1, 2, 3, 0, 0, 1}, Shape{kRows, 2});
  const MoePlan plan = moe_plan(indices, 5);
  const std::vector<Tensor> batches = split(moe_dispatch(x, plan), 0, plan.expert_counts);
  const Tensor out = nn::combine(batches, weights, plan);

  const std::vector<float> xs = x.to_vector<float>();
  const std::vector<float> ws = weights.to_vector<float>();
  std::vector<float> expected;
  for (int64_t r = 0; r < kRows; ++r) {
    const double weight = static_cast<double>(ws[static_cast<size_t>(2 * r)]) + ws[static_cast<size_t>(2 * r + 1)];
    for (int64_t c = 0; c < kDim; ++c) {
      expected.push_back(static_cast<float>(weight * xs[static_cast<size_t>(r * kDim + c)]));
    }
  }
  testing::expect_close(out, expected, 1e-6, 1e-6);
}

TEST(FeedForwardExpert, GroupedForwardEqualsEachExpertsForward) {
  constexpr int64_t kHidden = 6;
  Generator generator(21);
  std::vector<std::shared_ptr<nn::FeedForwardExpert>> experts;
  for (int i = 0; i < 3; ++i) experts.push_back(std::make_shared<nn::FeedForwardExpert>(kHidden, generator));
  const std::vector<const nn::FeedForwardExpert*> views{experts[0].get(), experts[1].get(),
                                                         experts[2].get()};
  const std::vector<int64_t> group_rows{4, 1, 6};
  const Tensor x = testing::random_parameter(Shape{11, kHidden}, 22);
  const Tensor probe = testing::random_tensor(Shape{11, kHidden}, 23);

  const Tensor grouped = nn::forward_grouped(views, x, group_rows);
  sum(mul(grouped, probe)).backward();
  std::vector<Tensor> grouped_grads{x.grad()};
  for (const auto& expert : experts) {
    for (const Tensor& parameter : expert->parameters()) {
      grouped_grads.push_back(parameter.grad());
      parameter.zero_grad();
    }
  }
  x.zero_grad();

  std::vector<Tensor> outputs;
  int64_t begin = 0;
  for (size_t g = 0; g < experts.size(); ++g) {
    outputs.push_back(experts[g]->forward(x.rows(begin, begin + group_rows[g])));
    begin += group_rows[g];
  }
  const Tensor separate = concat(outputs, 0);
  testing::expect_close(grouped, separate, 1e-5, 1e-5);
  sum(mul(separate, probe)).backward();
  size_t next = 0;
  testing::expect_close(grouped_grads[next++], x.grad(), 1e-5, 1e-5);
  for (const auto& expert : experts) {
    for (const Tensor& parameter : expert->parameters()) {
      testing::expect_close(grouped_grads[next++], parameter.grad(), 1e-5, 1e-5);
    }
  }
}

TEST(MixtureOfExperts, ForwardMatchesNaivePerRowLoop) {
  constexpr int64_t kHidden = 8;
  nn::MixtureOfExperts moe = make_moe(kHidden, {4, 4}, 2, 4);
  Generator generator(5);
  const Tensor x = Tensor::randn(Shape{37, kHidden}, generator);
  const std::vector<RowRoute> routes = reference_routes(moe, x);
  testing::expect_close(moe.forward(x), naive_forward(moe, x, routes), 1e-5, 1e-5);
}

TEST(MixtureOfExperts, GradientsMatchNaivePerRowLoop) {
  constexpr int64_t kHidden = 8;
  nn::MixtureOfExperts moe = make_moe(kHidden, {4, 4}, 2, 6);
  const Tensor x = testing::random_parameter(Shape{37, kHidden}, 7);
  Generator generator(8);
  const Tensor probe = Tensor::randn(Shape{37, kHidden}, generator);

  moe.forward(x).backward(probe);
  const Gradients layer = collect_gradients(moe, x);
  moe.zero_grad();
  x.zero_grad();
  naive_differentiable(moe, x, reference_routes(moe, x)).backward(probe);
  const Gradients naive = collect_gradients(moe, x);

  for (const auto& [name, grad] : naive.params) {
    const Tensor& actual = layer.params.at(name);
    ASSERT_EQ(actual.defined(), grad.defined()) << name;
    if (!grad.defined()) continue;
    SCOPED_TRACE(name);
    testing::expect_close(actual, grad, 1e-5, 1e-4);
  }
  testing::expect_close(layer.input, naive.input, 1e-5, 1e-4);
}

TEST(MixtureOfExperts, InputAndGateGradientsMatchFiniteDifferences) {
  nn::MixtureOfExperts moe = make_moe(4, {2, 3}, 2, 9);
  const Tensor x = testing::random_parameter(Shape{3, 4}, 10);
  const Tensor gate_weight = params_by_name(moe).at("gate.weight");
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& inputs) { return moe.forward(inputs[0]); }, {x, gate_weight});
}

TEST(MixtureOfExperts, ExpertsWithoutRowsGetNoGradient) {
  nn::MixtureOfExperts moe = make_moe(4, {2, 3}, 2, 11);
  const Tensor x = testing::random_parameter(Shape{1, 4}, 12);
  const std::vector<int64_t> chosen = moe.route(x).expert_indices.to_vector<int64_t>();
  Generator generator(13);
  moe.forward(x).backward(Tensor::randn(Shape{1, 4}, generator));
  for (int64_t e = 0; e < moe.num_experts(); ++e) {
    const bool used = std::find(chosen.begin(), chosen.end(), e) != chosen.end();
    for (const auto& [name, param] : moe.expert(e).named_parameters()) {
      EXPECT_EQ(param.grad().defined(), used) << "expert " << e << " " << name;
    }
  }
}

TEST(MixtureOfExperts, NoRowsGiveAnEmptyOutputOfTheExpertsWidthAndAnEmptyGradient) {
  // ffn experts (the grouped path) and plain Linear experts of another output width (the
  // per-expert path): an empty batch (a trainer's last, or a shard with nothing routed) is no
  // error.
  Generator generator(17);
  nn::MixtureOfExperts linear_experts(
      nn::MoeConfig{4, {2, 2}, 2},
      [](int64_t, Generator& g) { return std::make_shared<nn::Linear>(4, 3, g); }, generator);
  nn::MixtureOfExperts ffn_experts = make_moe(4, {2, 2}, 2, 18);
  for (auto [moe, width] :
       {std::pair{&ffn_experts, int64_t{4}}, std::pair{&linear_experts, int64_t{3}}}) {
    const Tensor x = testing::random_parameter(Shape{0, 4}, 19);
    const Tensor y = moe->forward(x);
    EXPECT_EQ(y.shape(), (Shape{0, width}));
    y.backward(Tensor::zeros(Shape{0, width}));
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().shape(), (Shape{0, 4}));
  }
}

TEST(MixtureOfExperts, RejectsKLargerThanExpertCount) {
  EXPECT_TRUE(testing::throws_error([] { make_moe(4, {2, 2}, 5, 14); }, {"k = 5", "[1, 4]"}));
}

TEST(MixtureOfExperts, RejectsEmptyGrid) {
  EXPECT_TRUE(testing::throws_error([] { make_moe(4, {}, 1, 15); }, {"grid has no dimensions"}));
}

TEST(MixtureOfExperts, RejectsWrongInputWidth) {
  nn::MixtureOfExperts moe = make_moe(4, {2, 2}, 2, 16);
  const Tensor x = Tensor::zeros(Shape{3, 5});
  EXPECT_TRUE(testing::throws_error([&] { (void)moe.forward(x); }, {"[3, 5]", "[n, 4]"}));
}

}  // namespace
}  // namespace hive
