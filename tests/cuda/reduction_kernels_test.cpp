// The CUDA kernels along an axis against the CPU backend: sum, mean, max and argmax, softmax and
// log-softmax, the fused softmax + cross-entropy loss and layer normalization, forward and
// backward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/ops/normalization.h"
#include "engine/ops/reduction.h"
#include "engine/ops/softmax.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_equal_indices;
using testing::expect_relative_close;
using testing::random_input;
using testing::tied_input;
using testing::tolerance_for;
using testing::TensorFunction;

using testing::kFloatTypes;
const Shape kCube{5, 37, 129};  // no extent is a multiple of a warp

// `rows` labels in [0, classes), of an index dtype, on the CPU.
Tensor random_labels(int64_t rows, int64_t classes, uint64_t seed, DType dtype) {
  Generator generator(seed);
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t& label : labels) {
    label = static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(classes)));
  }
  return Tensor::from_vector(labels, Shape{rows}).to(dtype);
}

class ReductionKernelsTest : public testing::CudaTest {};

TEST_F(ReductionKernelsTest, SumMeanAndMaxAlongEachAxisMatchCpu) {
  struct ReduceCase {
    const char* name;
    Tensor (*op)(const Tensor&, int, KeepDim);
  };
  const ReduceCase cases[] = {{"sum", &hive::sum}, {"mean", &hive::mean}, {"max", &hive::max}};
  uint64_t seed = 1;
  for (const ReduceCase& reduce : cases) {
    for (const DType dtype : kFloatTypes) {
      for (const int axis : {0, 1, 2, -1}) {
        for (const KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
          SCOPED_TRACE(::testing::Message() << reduce.name << " " << dtype << " axis " << axis
                                            << (keep == KeepDim::kYes ? " keepdim" : ""));
          expect_matches_cpu(
              [&](const std::vector<Tensor>& in) { return reduce.op(in[0], axis, keep); },
              {random_input(kCube, seed++, dtype)}, tolerance_for(dtype));
        }
      }
    }
  }
}

TEST_F(ReductionKernelsTest, ArgmaxMatchesCpuAlongEachAxis) {
  uint64_t seed = 100;
  for (const DType dtype : kFloatTypes) {
    for (const int axis : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis);
      const Tensor x = random_input(kCube, seed++, dtype);
      expect_equal_indices(argmax(x.to(gpu()), axis), argmax(x, axis));
      expect_equal_indices(argmax(x.to(gpu()), axis, KeepDim::kYes),
                           argmax(x, axis, KeepDim::kYes));
    }
  }
}

TEST_F(ReductionKernelsTest, TiedMaximaResolveToTheFirstIndexLikeCpu) {
  uint64_t seed = 200;
  for (const DType dtype : kFloatTypes) {
    for (const int axis : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis);
      const Tensor x = tied_input(kCube, seed++, dtype);
      expect_equal_indices(argmax(x.to(gpu()), axis), argmax(x, axis));
      // max's gradient goes to that same first position.
      expect_matches_cpu([axis](const std::vector<Tensor>& in) { return max(in[0], axis); }, {x},
                         tolerance_for(dtype));
    }
  }
}

TEST_F(ReductionKernelsTest, WholeTensorSumAndMeanMatchCpu) {
  uint64_t seed = 300;
  for (const DType dtype : kFloatTypes) {
    for (const Shape& shape : {Shape{1, 1}, Shape{3, 5}, Shape{37, 129}, Shape{257, 1000}}) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      expect_matches_cpu([](const std::vector<Tensor>& in) { return sum(in[0]); },
                         {random_input(shape, seed++, dtype)}, tolerance_for(dtype));
      expect_matches_cpu([](const std::vector<Tensor>& in) { return mean(in[0]); },
                         {random_input(shape, seed++, dtype)}, tolerance_for(dtype));
    }
  }
}

TEST_F(ReductionKernelsTest, SumOverAnEmptyAxisWritesZeros) {
  // The output is poisoned with NaN when allocated: every element must be written.
  for (const DType dtype : kFloatTypes) {
    SCOPED_TRACE(::testing::Message() << dtype);
    const Tensor x = Tensor::empty(Shape{3, 0, 5}, dtype, gpu());
    expect_relative_close(sum(x, 1), Tensor::zeros(Shape{3, 5}, dtype), 0.0);
    expect_relative_close(sum(Tensor::empty(Shape{0, 7}, dtype, gpu())),
                          Tensor::zeros(Shape{}, dtype), 0.0);
  }
}

TEST_F(ReductionKernelsTest, SoftmaxAndLogSoftmaxMatchCpuForwardAndBackward) {
  struct SoftmaxCase {
    const char* name;
    Tensor (*op)(const Tensor&, int);
  };
  const SoftmaxCase cases[] = {{"softmax", &hive::softmax}, {"log_softmax", &hive::log_softmax}};
  struct Layout {
    Shape shape;
    int axis;
  };
  const Layout layouts[] = {{kCube, -1},           {kCube, 1},          {kCube, 0},
                            {Shape{1, 1}, -1},     {Shape{3, 5}, 0},    {Shape{257, 1000}, -1},
                            {Shape{2, 4096}, -1}};
  uint64_t seed = 400;
  for (const SoftmaxCase& softmax_case : cases) {
    for (const DType dtype : kFloatTypes) {
      for (const Layout& layout : layouts) {
        // Scale 20 gives logits whose exponentials overflow unless the maximum is subtracted.
        for (const float scale : {1.0f, 20.0f}) {
          SCOPED_TRACE(::testing::Message() << softmax_case.name << " " << dtype << " "
                                            << layout.shape << " axis " << layout.axis
                                            << " scale " << scale);
          expect_matches_cpu(
              [&](const std::vector<Tensor>& in) { return softmax_case.op(in[0], layout.axis); },
              {random_input(layout.shape, seed++, dtype, scale)}, tolerance_for(dtype));
        }
      }
    }
  }
}

TEST_F(ReductionKernelsTest, CrossEntropyMatchesCpuForwardAndBackward) {
  const std::pair<int64_t, int64_t> sizes[] = {{1, 10}, {37, 1000}, {257, 3}};
  uint64_t seed = 500;
  for (const DType dtype : kFloatTypes) {
    for (const DType label_dtype : {DType::kI64, DType::kI32}) {
      for (const auto& [rows, classes] : sizes) {
        SCOPED_TRACE(::testing::Message() << dtype << " logits [" << rows << ", " << classes
                                          << "], " << label_dtype << " labels");
        const Tensor labels = random_labels(rows, classes, seed++, label_dtype);
        expect_matches_cpu(
            [&labels](const std::vector<Tensor>& in) {
              return cross_entropy(in[0], labels.to(in[0].device()));
            },
            {random_input(Shape{rows, classes}, seed++, dtype, 3.0f)}, tolerance_for(dtype));
      }
    }
  }
}

TEST_F(ReductionKernelsTest, LayerNormMatchesCpuForwardAndBackward) {
  const TensorFunction normalize = [](const std::vector<Tensor>& in) {
    return layer_norm(in[0], in[1], in[2]);
  };
  uint64_t seed = 600;
  for (const DType dtype : kFloatTypes) {
    for (const int64_t width : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{1000}, int64_t{4096}}) {
      for (const Shape& shape : {Shape{37, width}, Shape{1, width}, Shape{3, 5, width}}) {
        SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
        // Weight and bias random too, so a kernel that ignores either fails.
        expect_matches_cpu(normalize,
                           {random_input(shape, seed, dtype), random_input(Shape{width}, seed + 1, dtype),
                            random_input(Shape{width}, seed + 2, dtype)},
                           tolerance_for(dtype));
        seed += 3;
      }
    }
  }
}

TEST_F(ReductionKernelsTest, LayerNormWithoutWeightOrBiasMatchesCpu) {
  uint64_t seed = 700;
  for (const DType dtype : kFloatTypes) {
    for (const int64_t width : {int64_t{7}, int64_t{1000}}) {
      SCOPED_TRACE(::testing::Message() << dtype << " width " << width);
      const Tensor x = random_input(Shape{37, width}, seed++, dtype);
      const Tensor weight = random_input(Shape{width}, seed++, dtype);
      const Tensor bias = random_input(Shape{width}, seed++, dtype);
      expect_matches_cpu(
          [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor()); },
          {x}, tolerance_for(dtype));
      expect_matches_cpu(
          [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], Tensor()); },
          {x, weight}, tolerance_for(dtype));
      expect_matches_cpu(
          [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), in[1]); },
          {x, bias}, tolerance_for(dtype));
    }
  }
}

TEST_F(ReductionKernelsTest, LayerNormStaysAccurateForRowsWithALargeMean) {
  // Rows around 300 with unit spread. A one-pass variance, E[x^2] - E[x]^2 in f32, is off by
  // about 1e-2 here; two passes (the CPU's) or Welford's update stay near 1e-5. The oracle is
  // the formula in double.
  constexpr int64_t kRows = 37;
  constexpr int64_t kWidth = 1000;
  constexpr float kEps = 1e-5f;
  Tensor x = random_input(Shape{kRows, kWidth}, 800);
  float* data = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) data[i] += 300.0f;
  std::vector<float> expected(static_cast<size_t>(x.numel()));
  for (int64_t row = 0; row < kRows; ++row) {
    const float* line = data + row * kWidth;
    double total = 0.0;
    for (int64_t c = 0; c < kWidth; ++c) total += line[c];
    const double mean_value = total / kWidth;
    double squares = 0.0;
    for (int64_t c = 0; c < kWidth; ++c) squares += (line[c] - mean_value) * (line[c] - mean_value);
    const double rstd = 1.0 / std::sqrt(squares / kWidth + kEps);
    for (int64_t c = 0; c < kWidth; ++c) {
      expected[static_cast<size_t>(row * kWidth + c)] = static_cast<float>((line[c] - mean_value) * rstd);
    }
  }
  expect_relative_close(layer_norm(x.to(gpu()), Tensor(), Tensor(), kEps),
                        Tensor::from_vector(expected, x.shape()), 1e-3);
}

}  // namespace
}  // namespace hive
