#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "engine/core/random.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

using BinaryFunction = Tensor (*)(const Tensor&, const Tensor&);
using UnaryFunction = Tensor (*)(const Tensor&);

struct NamedBinary {
  const char* name;
  BinaryFunction op;
  std::function<double(double, double)> reference;
};

struct NamedUnary {
  const char* name;
  UnaryFunction op;
  std::function<double(double)> reference;
};

double gelu_reference(double x) {
  const double z = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + std::tanh(z));
}

const std::vector<NamedBinary>& binary_ops() {
  static const std::vector<NamedBinary> ops = {
      {"add", add, [](double a, double b) { return a + b; }},
      {"sub", sub, [](double a, double b) { return a - b; }},
      {"mul", mul, [](double a, double b) { return a * b; }},
      {"div", div, [](double a, double b) { return a / b; }},
  };
  return ops;
}

// `positive`: the op is defined (and smooth) only for positive inputs, so tests draw them there.
struct UnaryCase {
  NamedUnary op;
  bool positive;
};

const std::vector<UnaryCase>& unary_ops() {
  static const std::vector<UnaryCase> ops = {
      {{"neg", neg, [](double x) { return -x; }}, false},
      {{"relu", relu, [](double x) { return x > 0.0 ? x : 0.0; }}, false},
      {{"gelu", gelu, gelu_reference}, false},
      {{"tanh", tanh, [](double x) { return std::tanh(x); }}, false},
      {{"sigmoid", sigmoid, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }}, false},
      {{"exp", exp, [](double x) { return std::exp(x); }}, false},
      {{"log", log, [](double x) { return std::log(x); }}, true},
      {{"square", square, [](double x) { return x * x; }}, false},
      {{"sqrt", sqrt, [](double x) { return std::sqrt(x); }}, true},
  };
  return ops;
}

std::vector<float> uniform_values(int64_t count, uint64_t seed, double low, double high) {
  Generator generator(seed);
  return Tensor::rand(Shape{count}, generator, low, high).to_vector<float>();
}

// Values with magnitudes in [0.5, 2] and alternating signs: far from relu's kink at 0 (so a
// finite difference never straddles it) and safe as divisors.
std::vector<float> values_away_from_zero(int64_t count, uint64_t seed) {
  std::vector<float> values = uniform_values(count, seed, 0.5, 2.0);
  for (size_t i = 0; i < values.size(); i += 2) values[i] = -values[i];
  return values;
}

Tensor input_for(const UnaryCase& unary, const Shape& shape, uint64_t seed) {
  const std::vector<float> values = unary.positive ? uniform_values(shape.numel(), seed, 0.5, 3.0)
                                                   : values_away_from_zero(shape.numel(), seed);
  return testing::parameter(values, shape);
}

// out[index] = f(a[...], b[...]) with NumPy broadcasting, computed coordinate by coordinate.
std::vector<float> broadcast_reference(const Tensor& a, const Tensor& b, const Shape& out_shape,
                                       const std::function<double(double, double)>& f) {
  const std::vector<float> va = a.to_vector<float>();
  const std::vector<float> vb = b.to_vector<float>();
  auto offset = [&out_shape](const Shape& shape, int64_t flat) {
    int64_t result = 0;
    int64_t stride = 1;
    for (int axis = out_shape.rank() - 1; axis >= 0; --axis) {
      const int64_t coordinate = flat % out_shape[axis];
      flat /= out_shape[axis];
      const int own_axis = axis - (out_shape.rank() - shape.rank());
      if (own_axis < 0) continue;
      if (shape[own_axis] != 1) result += coordinate * stride;
      stride *= shape[own_axis];
    }
    return result;
  };
  std::vector<float> out(static_cast<size_t>(out_shape.numel()));
  for (int64_t i = 0; i < out_shape.numel(); ++i) {
    out[static_cast<size_t>(i)] =
        static_cast<float>(f(va[static_cast<size_t>(offset(a.shape(), i))],
                             vb[static_cast<size_t>(offset(b.shape(), i))]));
  }
  return out;
}

TEST(Elementwise, BinaryOpsMatchHandComputedValues) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, -2, 3.5, 4}, Shape{2, 2});
  const Tensor b = Tensor::from_vector(std::vector<float>{0.5, 4, -1, 8}, Shape{2, 2});
  testing::expect_close(add(a, b), {1.5, 2, 2.5, 12});
  testing::expect_close(sub(a, b), {0.5, -6, 4.5, -4});
  testing::expect_close(mul(a, b), {0.5, -8, -3.5, 32});
  testing::expect_close(div(a, b), {2, -0.5, -3.5, 0.5});
  testing::expect_close(a + b * a - b / a, {1.0, -8.0, 0.2857143, 34.0});
  testing::expect_close(-a, {-1, 2, -3.5, -4});
}

TEST(Elementwise, BroadcastsRowVectorOverMatrix) {
  const Tensor a = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, Shape{2, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{10, 20, 30}, Shape{3});
  const Tensor out = add(a, b);
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  testing::expect_close(out, {10, 21, 32, 13, 24, 35});
  testing::expect_close(sub(b, a), {10, 19, 28, 7, 16, 25});
}

TEST(Elementwise, BroadcastsColumnAgainstRow) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2}, Shape{2, 1});
  const Tensor b = Tensor::from_vector(std::vector<float>{10, 20, 30}, Shape{1, 3});
  const Tensor out = add(a, b);
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  testing::expect_close(out, {11, 21, 31, 12, 22, 32});
}

TEST(Elementwise, BroadcastsAcrossRanksForEveryOp) {
  const Tensor a = testing::random_tensor(Shape{4, 1, 3}, 1);
  const Tensor b = testing::random_tensor(Shape{2, 1}, 2);
  for (const NamedBinary& op : binary_ops()) {
    const Tensor out = op.op(a, b);
    EXPECT_EQ(out.shape(), (Shape{4, 2, 3})) << op.name;
    testing::expect_close(out, broadcast_reference(a, b, Shape{4, 2, 3}, op.reference), 1e-5, 1e-5);
  }
}

TEST(Elementwise, BroadcastsScalarShape) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{2, 2});
  const Tensor s = Tensor::scalar(3.0);
  testing::expect_close(mul(a, s), {3, 6, 9, 12});
  testing::expect_close(sub(s, a), {2, 1, 0, -1});
  const Tensor both = add(s, Tensor::scalar(0.5));
  EXPECT_EQ(both.rank(), 0);
  EXPECT_FLOAT_EQ(both.item<float>(), 3.5f);
}

// Every shape of rank 0 to 3 with dimensions 1, 2 or 3.
std::vector<Shape> small_shapes() {
  std::vector<Shape> shapes{Shape{}};
  size_t previous_rank_begin = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    const size_t previous_rank_end = shapes.size();
    for (size_t i = previous_rank_begin; i < previous_rank_end; ++i) {
      for (int64_t dim : {1, 2, 3}) {
        Shape longer = shapes[i];
        longer.push_back(dim);
        shapes.push_back(longer);
      }
    }
    previous_rank_begin = previous_rank_end;
  }
  return shapes;
}

bool broadcastable(const Shape& a, const Shape& b) {
  for (int i = 1; i <= std::min(a.rank(), b.rank()); ++i) {
    const int64_t dim_a = a[a.rank() - i];
    const int64_t dim_b = b[b.rank() - i];
    if (dim_a != dim_b && dim_a != 1 && dim_b != 1) return false;
  }
  return true;
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const Shape& longer = a.rank() >= b.rank() ? a : b;
  const Shape& shorter = a.rank() >= b.rank() ? b : a;
  Shape out = longer;
  for (int i = 1; i <= shorter.rank(); ++i) {
    out[out.rank() - i] = std::max(longer[longer.rank() - i], shorter[shorter.rank() - i]);
  }
  return out;
}

TEST(Elementwise, BroadcastsEveryPairOfSmallShapes) {
  const std::vector<Shape> shapes = small_shapes();
  uint64_t seed = 100;
  for (const Shape& shape_a : shapes) {
    for (const Shape& shape_b : shapes) {
      if (!broadcastable(shape_a, shape_b)) continue;
      SCOPED_TRACE(::testing::Message() << shape_a << " - " << shape_b);
      const Tensor a = testing::random_tensor(shape_a, seed++);
      const Tensor b = testing::random_tensor(shape_b, seed++);
      const Shape out_shape = broadcast_shape(shape_a, shape_b);
      const Tensor out = sub(a, b);
      ASSERT_EQ(out.shape(), out_shape);
      testing::expect_close(
          out, broadcast_reference(a, b, out_shape, [](double x, double y) { return x - y; }));
    }
  }
}

TEST(Elementwise, SumToInvertsEveryBroadcastOfSmallShapes) {
  const std::vector<Shape> shapes = small_shapes();
  uint64_t seed = 5000;
  for (const Shape& target : shapes) {
    for (const Shape& other : shapes) {
      if (!broadcastable(target, other)) continue;
      const Shape full = broadcast_shape(target, other);
      SCOPED_TRACE(::testing::Message() << full << " to " << target);
      const Tensor x = testing::random_tensor(full, seed++);
      // Broadcasting the target's element numbers up to the full shape tells which target
      // element each element of x is summed into.
      const std::vector<float> values = x.to_vector<float>();
      const std::vector<float> positions =
          broadcast_reference(Tensor::arange(target.numel(), DType::kF32).reshape(target), x, full,
                              [](double index, double) { return index; });
      std::vector<float> expected(static_cast<size_t>(target.numel()), 0.0f);
      for (size_t i = 0; i < values.size(); ++i) {
        expected[static_cast<size_t>(positions[i])] += values[i];
      }
      testing::expect_close(sum_to(x, target), expected);
    }
  }
}

TEST(Elementwise, BroadcastsLargeTensorsLikeSmallOnes) {
  // Large enough that the kernels split the work across threads.
  const Tensor a = testing::random_tensor(Shape{64, 1, 600}, 3);
  const Tensor b = testing::random_tensor(Shape{5, 1}, 4);
  testing::expect_close(mul(a, b), broadcast_reference(a, b, Shape{64, 5, 600},
                                                       [](double x, double y) { return x * y; }));
}

TEST(Elementwise, EmptyTensorsGiveEmptyResults) {
  EXPECT_EQ(add(Tensor::zeros(Shape{3, 0}), Tensor::zeros(Shape{3, 0})).shape(), (Shape{3, 0}));
  EXPECT_EQ(mul(Tensor::zeros(Shape{0, 3}), Tensor::zeros(Shape{3})).shape(), (Shape{0, 3}));
  EXPECT_EQ(sub(Tensor::zeros(Shape{2, 0, 4}), Tensor::zeros(Shape{2, 1, 4})).shape(),
            (Shape{2, 0, 4}));
  EXPECT_EQ(relu(Tensor::zeros(Shape{0})).shape(), (Shape{0}));
  EXPECT_EQ(affine(Tensor::zeros(Shape{2, 0}), 2.0f, 1.0f).shape(), (Shape{2, 0}));
}

TEST(Elementwise, BiasAddAddsToEveryRow) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
                                       Shape{2, 2, 3});
  const Tensor bias = Tensor::from_vector(std::vector<float>{100, 200, 300}, Shape{3});
  testing::expect_close(bias_add(x, bias),
                        {101, 202, 303, 104, 205, 306, 107, 208, 309, 110, 211, 312});
}

TEST(Elementwise, BiasAddRejectsABiasOfTheWrongLength) {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  EXPECT_TRUE(testing::throws_error([&] { bias_add(x, Tensor::zeros(Shape{2})); },
                                    {"bias_add", "[2]", "[2, 3]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        bias_add(x, Tensor::zeros(Shape{1, 3}));
      },
      {"bias_add", "[1, 3]"}));
}

TEST(Elementwise, AffineScaleAndAddScalar) {
  const Tensor x = Tensor::from_vector(std::vector<float>{-1, 0, 2.5}, Shape{3});
  testing::expect_close(affine(x, 2.0f, 1.0f), {-1, 1, 6});
  testing::expect_close(scale(x, -3.0f), {3, 0, -7.5});
  testing::expect_close(add_scalar(x, 0.5f), {-0.5, 0.5, 3});
  testing::expect_close(x * 4.0f, {-4, 0, 10});
  testing::expect_close(0.5f * x, {-0.5, 0, 1.25});
}

TEST(Elementwise, UnaryOpsMatchDoubleReference) {
  for (const UnaryCase& unary : unary_ops()) {
    const Tensor x = input_for(unary, Shape{3, 17}, 10).detach();
    const std::vector<float> values = x.to_vector<float>();
    std::vector<float> expected;
    for (float v : values) expected.push_back(static_cast<float>(unary.op.reference(v)));
    SCOPED_TRACE(unary.op.name);
    testing::expect_close(unary.op.op(x), expected, 1e-6, 2e-6);
  }
}

TEST(Elementwise, UnaryOpsMatchDoubleReferenceOnWideRange) {
  // Saturating regions of the activations (|x| up to 12) and both signs.
  Generator generator(20);
  const Tensor x = Tensor::rand(Shape{257}, generator, -12.0, 12.0);
  const std::vector<float> values = x.to_vector<float>();
  for (const UnaryCase& unary : unary_ops()) {
    if (unary.positive) continue;
    std::vector<float> expected;
    for (float v : values) expected.push_back(static_cast<float>(unary.op.reference(v)));
    SCOPED_TRACE(unary.op.name);
    testing::expect_close(unary.op.op(x), expected, 1e-6, 2e-6);
  }
}

TEST(Elementwise, BinaryGradientsMatchFiniteDifferences) {
  for (const NamedBinary& op : binary_ops()) {
    SCOPED_TRACE(op.name);
    const Tensor a = testing::random_parameter(Shape{2, 3}, 1);
    const Tensor b = testing::parameter(values_away_from_zero(6, 2), Shape{2, 3});
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); }, {a, b});
  }
}

TEST(Elementwise, BroadcastGradientsSumOverBroadcastAxes) {
  for (const NamedBinary& op : binary_ops()) {
    SCOPED_TRACE(op.name);
    const Tensor row = testing::random_parameter(Shape{2, 3}, 3);
    const Tensor vector = testing::parameter(values_away_from_zero(3, 4), Shape{3});
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); }, {row, vector});
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return op.op(in[1], in[0]); },
        {testing::parameter(values_away_from_zero(6, 5), Shape{2, 3}),
         testing::random_parameter(Shape{3}, 6)});
  }
}

TEST(Elementwise, BroadcastGradientsForColumnTimesRowAndRankChange) {
  for (const NamedBinary& op : binary_ops()) {
    SCOPED_TRACE(op.name);
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); },
        {testing::random_parameter(Shape{2, 1}, 7),
         testing::parameter(values_away_from_zero(3, 8), Shape{1, 3})});
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); },
        {testing::random_parameter(Shape{4, 1, 3}, 9),
         testing::parameter(values_away_from_zero(2, 10), Shape{2, 1})});
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); },
        {testing::random_parameter(Shape{2, 2}, 11),
         testing::parameter(values_away_from_zero(1, 12), Shape{})});
  }
}

TEST(Elementwise, UnaryGradientsMatchFiniteDifferences) {
  for (const UnaryCase& unary : unary_ops()) {
    SCOPED_TRACE(unary.op.name);
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return unary.op.op(in[0]); },
        {input_for(unary, Shape{2, 5}, 13)});
  }
}

TEST(Elementwise, AffineAndBiasAddGradientsMatchFiniteDifferences) {
  const Tensor x = testing::random_parameter(Shape{3, 4}, 14);
  const Tensor bias = testing::random_parameter(Shape{4}, 15);
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return affine(in[0], -1.5f, 2.0f); }, {x});
  testing::expect_gradients_match([](const std::vector<Tensor>& in) { return scale(in[0], 3.0f); },
                                  {x});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return add_scalar(in[0], 7.0f); }, {x});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return bias_add(in[0], in[1]); }, {x, bias});
}

TEST(Elementwise, SumToReducesBroadcastAxes) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  testing::expect_close(sum_to(x, Shape{3}), {5, 7, 9});
  testing::expect_close(sum_to(x, Shape{2, 1}), {6, 15});
  testing::expect_close(sum_to(x, Shape{}), {21});
  EXPECT_TRUE(sum_to(x, Shape{2, 3}).is_same(x));
  EXPECT_TRUE(testing::throws_error([&] { sum_to(x, Shape{2}); }, {"sum_to", "[2]", "[2, 3]"}));
}

TEST(Elementwise, SumToGradientMatchesFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) {
        return sum_to(in[0], Shape{3, 1});
      },
      {testing::random_parameter(Shape{2, 3, 4}, 16)});
}

TEST(Elementwise, InPlaceAddAndScaleWriteIntoTheTarget) {
  const Tensor target = Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{3});
  void* storage = target.raw_data();
  add_(target, Tensor::from_vector(std::vector<float>{10, 20, 30}, Shape{3}));
  scale_(target, 0.5f);
  EXPECT_EQ(target.raw_data(), storage);
  testing::expect_close(target, {5.5, 11, 16.5});
}

TEST(Elementwise, InPlaceOpsAreNotRecorded) {
  const Tensor x = testing::parameter({1, 2}, Shape{2});
  add_(x, Tensor::ones(Shape{2}));
  scale_(x, 2.0f);
  EXPECT_TRUE(x.is_leaf());
  testing::expect_close(x, {4, 6});
}

TEST(Elementwise, InPlaceAddRejectsAnotherShape) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        add_(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3}));
      },
      {"add_", "[2, 3]", "[3]"}));
}

TEST(Elementwise, ShapesThatDoNotBroadcastThrowNamingTheOp) {
  for (const NamedBinary& op : binary_ops()) {
    EXPECT_TRUE(testing::throws_error(
        [&] {
          op.op(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{4}));
        },
        {op.name, "[2, 3]", "[4]"}));
    EXPECT_TRUE(testing::throws_error(
        [&] {
          op.op(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3, 2}));
        },
        {op.name, "[2, 3]", "[3, 2]"}));
  }
}

TEST(Elementwise, MixedDtypesThrowNamingTheOp) {
  for (const NamedBinary& op : binary_ops()) {
    EXPECT_TRUE(testing::throws_error(
        [&] { op.op(Tensor::zeros(Shape{2}), Tensor::zeros(Shape{5}, DType::kF16)); },
        {op.name, "f16", "[5]"}));
  }
}

TEST(Elementwise, IntegerInputsThrowNamingTheOp) {
  for (const NamedBinary& op : binary_ops()) {
    EXPECT_TRUE(testing::throws_error(
        [&] { op.op(Tensor::zeros(Shape{3}, DType::kI32), Tensor::zeros(Shape{3}, DType::kI32)); },
        {op.name, "i32", "[3]"}));
  }
  for (const UnaryCase& unary : unary_ops()) {
    EXPECT_TRUE(testing::throws_error(
        [&] {
          unary.op.op(Tensor::zeros(Shape{4, 1}, DType::kI64));
        },
        {unary.op.name, "i64", "[4, 1]"}));
  }
  EXPECT_TRUE(testing::throws_error([] { affine(Tensor::zeros(Shape{2}, DType::kU8), 1.0f, 0.0f); },
                                    {"affine", "u8", "[2]"}));
}

TEST(Elementwise, HalfPrecisionAgreesWithSinglePrecision) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor a = testing::random_tensor(Shape{4, 9}, 21);
    const Tensor b = Tensor::from_vector(values_away_from_zero(9, 22), Shape{9});
    // The reference runs in f32 on the same (rounded) inputs, so only the rounding of the
    // result separates the two.
    const Tensor a_low = a.to(dtype);
    const Tensor b_low = b.to(dtype);
    for (const NamedBinary& op : binary_ops()) {
      SCOPED_TRACE(op.name);
      const Tensor out = op.op(a_low, b_low);
      EXPECT_EQ(out.dtype(), dtype);
      testing::expect_close(out, op.op(a_low.to(DType::kF32), b_low.to(DType::kF32)), 1e-2, 1e-2);
    }
    for (const UnaryCase& unary : unary_ops()) {
      SCOPED_TRACE(unary.op.name);
      const Tensor x = input_for(unary, Shape{4, 9}, 23).detach().to(dtype);
      const Tensor out = unary.op.op(x);
      EXPECT_EQ(out.dtype(), dtype);
      testing::expect_close(out, unary.op.op(x.to(DType::kF32)), 1e-2, 1e-2);
    }
  }
}

}  // namespace
}  // namespace hive
