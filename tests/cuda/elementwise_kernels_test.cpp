// The CUDA elementwise kernels against the CPU backend: activations and their derivatives,
// broadcasting binary ops and sum_to, affine maps, casts (one and many at once), fills, seeded random draws, dropout
// masks and the sum of squares behind gradient clipping.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "engine/core/backend.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/optim/clip_grad.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_relative_close;
using testing::random_input;
using testing::tolerance_for;
using testing::Outcome;
using testing::run_on;
using testing::TensorFunction;

using testing::kFloatTypes;
constexpr DType kAllTypes[] = {DType::kF32, DType::kBF16, DType::kF16,
                               DType::kI32, DType::kI64, DType::kU8};

// Odd sizes: a single element, tiny, not a multiple of a warp or a block, several waves of
// blocks, and empty.
const Shape kShapes[] = {Shape{1, 1}, Shape{3, 5}, Shape{37, 129}, Shape{257, 1000}, Shape{0, 7}};

// |z| + 0.5: inside the domain of log and sqrt and of div's denominator, and away from 0 where
// their slopes blow up.
Tensor positive_input(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor values = random_input(shape, seed);
  float* data = values.data<float>();
  for (int64_t i = 0; i < values.numel(); ++i) data[i] = std::abs(data[i]) + 0.5f;
  return values.to(dtype);
}

// Equal elements: integers bit for bit, floats bit for bit except that any NaN matches any NaN
// (the payload of a converted NaN is not part of the contract).
void expect_same_values(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.shape(), expected.shape());
  if (!is_floating(expected.dtype())) {
    const std::vector<int64_t> got = actual.to_vector<int64_t>();
    const std::vector<int64_t> want = expected.to_vector<int64_t>();
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "element " << i << " of " << expected.dtype();
    }
    return;
  }
  // Widening a 16-bit float to f32 is exact, so equal f32 bits mean equal 16-bit bits.
  const std::vector<float> got = actual.to_vector<float>();
  const std::vector<float> want = expected.to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << "element " << i << " is " << got[i] << ", expected NaN";
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
          << "element " << i << " of " << expected.dtype() << " is " << got[i] << ", expected "
          << want[i];
    }
  }
}

class ElementwiseKernelsTest : public testing::CudaTest {};

TEST_F(ElementwiseKernelsTest, UnaryOpsMatchCpuForwardAndBackward) {
  struct UnaryCase {
    const char* name;
    Tensor (*op)(const Tensor&);
    bool positive_domain;
  };
  const UnaryCase cases[] = {
      {"relu", &hive::relu, false},  {"gelu", &hive::gelu, false},
      {"tanh", &hive::tanh, false},  {"sigmoid", &hive::sigmoid, false},
      {"exp", &hive::exp, false},    {"log", &hive::log, true},
      {"neg", &hive::neg, false},    {"square", &hive::square, false},
      {"sqrt", &hive::sqrt, true},
  };
  uint64_t seed = 1;
  for (const UnaryCase& unary : cases) {
    for (const DType dtype : kFloatTypes) {
      for (const Shape& shape : kShapes) {
        SCOPED_TRACE(::testing::Message() << unary.name << " " << dtype << " " << shape);
        const Tensor x = unary.positive_domain ? positive_input(shape, seed++, dtype)
                                               : random_input(shape, seed++, dtype);
        expect_matches_cpu([&](const std::vector<Tensor>& in) { return unary.op(in[0]); }, {x},
                           tolerance_for(dtype));
      }
    }
  }
}

TEST_F(ElementwiseKernelsTest, BinaryOpsBroadcastLikeCpuForwardAndBackward) {
  struct BinaryCase {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&);
  };
  const BinaryCase cases[] = {
      {"add", &hive::add}, {"sub", &hive::sub}, {"mul", &hive::mul}, {"div", &hive::div}};
  // Both gradients go through sum_to whenever an operand was broadcast.
  const std::pair<Shape, Shape> shape_pairs[] = {
      {Shape{4, 1, 5}, Shape{3, 1}},     {Shape{3, 1}, Shape{4, 1, 5}},
      {Shape{37, 129}, Shape{}},         {Shape{}, Shape{37, 129}},
      {Shape{37, 129}, Shape{37, 129}},  {Shape{257, 1000}, Shape{1000}},
      {Shape{257, 1}, Shape{1, 1000}},   {Shape{1, 1}, Shape{1, 1}},
      {Shape{0, 7}, Shape{7}},
  };
  uint64_t seed = 100;
  for (const BinaryCase& binary : cases) {
    for (const DType dtype : kFloatTypes) {
      for (const auto& [a_shape, b_shape] : shape_pairs) {
        SCOPED_TRACE(::testing::Message() << binary.name << " " << dtype << " " << a_shape
                                          << " with " << b_shape);
        const Tensor a = random_input(a_shape, seed++, dtype);
        const Tensor b = positive_input(b_shape, seed++, dtype);
        expect_matches_cpu([&](const std::vector<Tensor>& in) { return binary.op(in[0], in[1]); },
                           {a, b}, tolerance_for(dtype));
      }
    }
  }
}

TEST_F(ElementwiseKernelsTest, BiasAddMatchesCpuForwardAndBackward) {
  for (const DType dtype : kFloatTypes) {
    SCOPED_TRACE(::testing::Message() << dtype);
    expect_matches_cpu([](const std::vector<Tensor>& in) { return bias_add(in[0], in[1]); },
                       {random_input(Shape{3, 37, 129}, 150, dtype),
                        random_input(Shape{129}, 151, dtype)},
                       tolerance_for(dtype));
  }
}

TEST_F(ElementwiseKernelsTest, AffineMapsMatchCpuForwardAndBackward) {
  uint64_t seed = 200;
  for (const DType dtype : kFloatTypes) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      expect_matches_cpu([](const std::vector<Tensor>& in) { return affine(in[0], -1.7f, 0.3f); },
                         {random_input(shape, seed++, dtype)}, tolerance_for(dtype));
      expect_matches_cpu([](const std::vector<Tensor>& in) { return scale(in[0], 2.5f); },
                         {random_input(shape, seed++, dtype)}, tolerance_for(dtype));
      expect_matches_cpu([](const std::vector<Tensor>& in) { return add_scalar(in[0], -4.0f); },
                         {random_input(shape, seed++, dtype)}, tolerance_for(dtype));
    }
  }
}

TEST_F(ElementwiseKernelsTest, InPlaceAddAndScaleMatchCpu) {
  uint64_t seed = 300;
  for (const DType dtype : kFloatTypes) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      const Tensor target = random_input(shape, seed++, dtype);
      const Tensor source = random_input(shape, seed++, dtype);
      const Tensor expected = target.clone();
      add_(expected, source);
      scale_(expected, -0.75f);
      const Tensor actual = target.to(gpu());
      add_(actual, source.to(gpu()));
      scale_(actual, -0.75f);
      expect_relative_close(actual, expected, tolerance_for(dtype));
    }
  }
}

TEST_F(ElementwiseKernelsTest, SumToMatchesCpuForwardAndBackward) {
  const std::pair<Shape, Shape> reductions[] = {
      {Shape{4, 3, 5}, Shape{3, 1}},   {Shape{4, 3, 5}, Shape{4, 1, 5}},
      {Shape{4, 3, 5}, Shape{}},       {Shape{4, 3, 5}, Shape{5}},
      {Shape{257, 1000}, Shape{1000}}, {Shape{257, 1000}, Shape{257, 1}},
      {Shape{0, 7}, Shape{7}},
  };
  uint64_t seed = 400;
  for (const DType dtype : kFloatTypes) {
    for (const auto& reduction : reductions) {
      const Shape& to = reduction.second;
      SCOPED_TRACE(::testing::Message() << dtype << " " << reduction.first << " to " << to);
      expect_matches_cpu([&to](const std::vector<Tensor>& in) { return sum_to(in[0], to); },
                         {random_input(reduction.first, seed++, dtype)}, tolerance_for(dtype));
    }
  }
}

TEST_F(ElementwiseKernelsTest, CastsBetweenEveryDtypePairMatchCpuExactly) {
  // Rounding ties (to even), values that saturate or wrap in the narrower types, infinities,
  // NaN (0 as an integer), a half subnormal, then ordinary values of both signs.
  std::vector<float> values = {0.0f,       -0.0f,  2.5f,          -2.5f,         1.00390625f,
                               1.00048828125f,     -1.0f,         255.5f,        300.0f,
                               70000.0f,   1e10f,  -1e10f,        3e38f,         1e-6f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN()};
  const std::vector<float> ordinary = random_input(Shape{1000}, 500, DType::kF32, 100.0f).to_vector<float>();
  values.insert(values.end(), ordinary.begin(), ordinary.end());
  const Tensor seed_values = Tensor::from_vector(values, Shape{static_cast<int64_t>(values.size())});
  for (const DType from : kAllTypes) {
    const Tensor source = seed_values.to(from);  // the CPU cast makes each source dtype
    const Tensor device_source = source.to(gpu());
    for (const DType to : kAllTypes) {
      if (to == from) continue;
      SCOPED_TRACE(::testing::Message() << from << " to " << to);
      const Tensor actual = device_source.to(to);
      ASSERT_EQ(actual.device(), gpu());
      expect_same_values(actual, source.to(to));
    }
  }
}

TEST_F(ElementwiseKernelsTest, CastOfManyTensorsMatchesCpuExactlyAcrossLaunches) {
  // 150 tensors: more than one multi-tensor launch (64 per launch) for each dtype pair, sizes
  // from empty to several chunks, and pairs of three dtype combinations plus an integer one
  // (cast alone) mixed in one call.
  std::vector<Tensor> sources, expected;
  for (int64_t t = 0; t < 150; ++t) {
    const int64_t numel = t % 7 == 0 ? 0 : (t * 977) % 20000 + 1;
    const DType from = t % 3 == 0 ? DType::kBF16 : DType::kF32;
    const DType to = t % 3 == 0 ? DType::kF32 : (t % 3 == 1 ? DType::kBF16 : DType::kF16);
    const Tensor source = random_input(Shape{numel}, static_cast<uint64_t>(600 + t), from, 50.0f);
    sources.push_back(source.to(gpu()));
    expected.push_back(source.to(to));
  }
  const Tensor integers = Tensor::from_vector(std::vector<int64_t>{-3, 0, 7}, Shape{3});
  sources.push_back(integers.to(gpu()));
  expected.push_back(integers.to(DType::kF32));
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < sources.size(); ++i) {
    outputs.push_back(Tensor::empty(expected[i].shape(), expected[i].dtype(), gpu()));  // poisoned
  }
  backend_for(gpu()).cast_many(sources, outputs);
  for (size_t i = 0; i < outputs.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "tensor " << i);
    expect_same_values(outputs[i], expected[i]);
  }
}

TEST_F(ElementwiseKernelsTest, FillsAndArangeMatchCpuExactly) {
  for (const DType dtype : kAllTypes) {
    for (const Shape& shape : {Shape{1}, Shape{37, 129}, Shape{0, 5}}) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      expect_same_values(Tensor::zeros(shape, dtype, gpu()), Tensor::zeros(shape, dtype));
      expect_same_values(Tensor::ones(shape, dtype, gpu()), Tensor::ones(shape, dtype));
      // 1e10 saturates the narrow integers and is exact in i64.
      for (const double value : {3.7, -2.5, 1e10}) {
        SCOPED_TRACE(::testing::Message() << "full " << value);
        expect_same_values(Tensor::full(shape, value, dtype, gpu()),
                           Tensor::full(shape, value, dtype));
      }
    }
    for (const int64_t count : {int64_t{0}, int64_t{1}, int64_t{1000}}) {
      SCOPED_TRACE(::testing::Message() << "arange " << count << " " << dtype);
      expect_same_values(Tensor::arange(count, dtype, gpu()), Tensor::arange(count, dtype));
    }
  }
}

TEST_F(ElementwiseKernelsTest, RandomDrawsEqualCpuDrawsFromTheSameSeed) {
  Generator cpu_generator(42);
  Generator gpu_generator(42);
  // Two draws each, so the second starts at a nonzero counter offset.
  for (int draw = 0; draw < 2; ++draw) {
    SCOPED_TRACE(::testing::Message() << "draw " << draw);
    const Shape shape{257, 1000};
    // Normal draws go through logf, cosf and sqrtf, whose CUDA versions may differ from the C
    // library's by an ulp or two: equal to float rounding, not bit for bit.
    expect_relative_close(Tensor::randn(shape, gpu_generator, DType::kF32, gpu()),
                          Tensor::randn(shape, cpu_generator), 1e-6);
    expect_same_values(Tensor::rand(shape, gpu_generator, -2.0, 3.0, DType::kF32, gpu()),
                       Tensor::rand(shape, cpu_generator, -2.0, 3.0));
    expect_same_values(Tensor::rand(Shape{37, 129}, gpu_generator, 0.0, 1.0, DType::kBF16, gpu()),
                       Tensor::rand(Shape{37, 129}, cpu_generator, 0.0, 1.0, DType::kBF16));
  }
  EXPECT_EQ(gpu_generator.offset(), cpu_generator.offset());
}

TEST_F(ElementwiseKernelsTest, DropoutMasksMatchCpuForTheSameSeed) {
  uint64_t seed = 600;
  for (const DType dtype : kFloatTypes) {
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      const Tensor x = random_input(shape, seed++, dtype);
      const TensorFunction drop = [](const std::vector<Tensor>& in) {
        return dropout(in[0], 0.3f, 1234);
      };
      const Outcome expected = run_on(Device::cpu(), drop, {x});
      const Outcome actual = run_on(gpu(), drop, {x});
      // The zeros mark dropped elements (a zero input is zero on both devices either way).
      for (const auto& [got, want] : {std::pair{actual.output, expected.output},
                                      std::pair{actual.grads[0], expected.grads[0]}}) {
        const std::vector<float> got_values = got.to_vector<float>();
        const std::vector<float> want_values = want.to_vector<float>();
        ASSERT_EQ(got_values.size(), want_values.size());
        for (size_t i = 0; i < want_values.size(); ++i) {
          ASSERT_EQ(got_values[i] == 0.0f, want_values[i] == 0.0f) << "element " << i;
        }
        expect_relative_close(got, want, tolerance_for(dtype));
      }
    }
  }
}

TEST_F(ElementwiseKernelsTest, GradientClippingNormMatchesCpu) {
  // clip_grad_norm is where sum_of_squares runs: one launch over a list of gradients.
  for (const DType dtype : kFloatTypes) {
    SCOPED_TRACE(::testing::Message() << dtype);
    const Shape shapes[] = {Shape{1}, Shape{3, 5}, Shape{37, 129}, Shape{257, 1000}, Shape{0, 4}};
    std::vector<Tensor> cpu_params;
    std::vector<Tensor> gpu_params;
    uint64_t seed = 700;
    for (const Shape& shape : shapes) {
      const Tensor param = random_input(shape, seed++, dtype);
      const Tensor grad = random_input(shape, seed++, dtype, 0.5f);
      cpu_params.push_back(param.clone());
      gpu_params.push_back(param.to(gpu()));
      cpu_params.back().set_grad(grad.clone());
      gpu_params.back().set_grad(grad.to(gpu()));
    }
    const float cpu_norm = optim::clip_grad_norm(cpu_params, 1.0f);
    const float gpu_norm = optim::clip_grad_norm(gpu_params, 1.0f);
    EXPECT_NEAR(gpu_norm, cpu_norm, tolerance_for(dtype) * cpu_norm);
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "gradient " << i);
      expect_relative_close(gpu_params[i].grad(), cpu_params[i].grad(), tolerance_for(dtype));
    }
  }
}

}  // namespace
}  // namespace hive
