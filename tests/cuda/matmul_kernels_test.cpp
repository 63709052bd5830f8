// The CUDA matrix products (cuBLASLt) and transpose against the CPU backend: plain, batched and
// shared-operand matmul, linear with and without bias, feed_forward, the backward epilogues
// (fused by cuBLASLt and unfused), empty products, forward and backward.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "engine/core/backend.h"
#include "engine/ops/matmul.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_relative_close;
using testing::random_input;
using testing::tolerance_for;
using testing::TensorFunction;

using testing::kFloatTypes;

const TensorFunction kMatmul = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };

class MatmulKernelsTest : public testing::CudaTest {
 protected:
  // matmul of each pair of operand shapes, f32 and bf16, on fresh inputs from `seed` on.
  static void expect_products_match_cpu(std::span<const std::pair<Shape, Shape>> operands,
                                        uint64_t seed) {
    for (const DType dtype : kFloatTypes) {
      for (const auto& [a_shape, b_shape] : operands) {
        SCOPED_TRACE(::testing::Message() << dtype << " " << a_shape << " @ " << b_shape);
        expect_matches_cpu(kMatmul,
                           {random_input(a_shape, seed, dtype), random_input(b_shape, seed + 1, dtype)},
                           tolerance_for(dtype));
        seed += 2;
      }
    }
  }

  struct LinearCase {
    Shape x;
    int64_t out;
  };
  using LinearLayer = Tensor (*)(const Tensor& x, const Tensor& weight, const Tensor& bias);

  // `layer` (linear or linear_gelu) with and without bias on each case, f32 and bf16, forward
  // and backward, on fresh inputs from `seed` on.
  static void expect_layers_match_cpu(LinearLayer layer, std::span<const LinearCase> cases,
                                      uint64_t seed) {
    const TensorFunction with_bias = [layer](const std::vector<Tensor>& in) {
      return layer(in[0], in[1], in[2]);
    };
    const TensorFunction without_bias = [layer](const std::vector<Tensor>& in) {
      return layer(in[0], in[1], Tensor());
    };
    for (const DType dtype : kFloatTypes) {
      for (const LinearCase& c : cases) {
        SCOPED_TRACE(::testing::Message() << dtype << " x " << c.x << " to " << c.out);
        const Tensor x = random_input(c.x, seed, dtype);
        const Tensor weight = random_input(Shape{c.out, c.x[c.x.rank() - 1]}, seed + 1, dtype);
        const Tensor bias = random_input(Shape{c.out}, seed + 2, dtype);
        seed += 3;
        expect_matches_cpu(with_bias, {x, weight, bias}, tolerance_for(dtype));
        expect_matches_cpu(without_bias, {x, weight}, tolerance_for(dtype));
      }
    }
  }
};


TEST_F(MatmulKernelsTest, MatmulMatchesCpuForwardAndBackward) {
  const std::pair<Shape, Shape> operands[] = {
      {Shape{3, 5}, Shape{5, 7}},
      {Shape{128, 256}, Shape{256, 64}},
      {Shape{1, 1}, Shape{1, 1}},
      {Shape{1, 129}, Shape{129, 1}},
      {Shape{4, 33, 17}, Shape{4, 17, 9}},        // batched
      {Shape{2, 3, 5, 4}, Shape{2, 3, 4, 6}},     // batched over two leading axes
      {Shape{4, 33, 17}, Shape{17, 9}},           // b shared by every matrix of a
      {Shape{2, 3, 37, 129}, Shape{129, 65}},     // shared b, a of rank 4
  };
  expect_products_match_cpu(operands, 1);
}

TEST_F(MatmulKernelsTest, EmptyProductsMatchCpu) {
  // k == 0 must give zeros (the poisoned output may not be read as beta * out), and m == 0 or
  // n == 0 give empty results whose backward still writes the other operand's zero gradient.
  const std::pair<Shape, Shape> operands[] = {
      {Shape{3, 0}, Shape{0, 4}},       {Shape{2, 3, 0}, Shape{2, 0, 4}},
      {Shape{0, 5}, Shape{5, 7}},       {Shape{3, 5}, Shape{5, 0}},
      {Shape{4, 0, 17}, Shape{17, 9}},
  };
  expect_products_match_cpu(operands, 100);
}

TEST_F(MatmulKernelsTest, LinearMatchesCpuWithAndWithoutBias) {
  const LinearCase cases[] = {{Shape{37, 129}, 65}, {Shape{2, 37, 129}, 65}, {Shape{1, 1}, 1},
                              {Shape{128, 256}, 64}, {Shape{129}, 7}};
  expect_layers_match_cpu(&linear, cases, 200);
}

TEST_F(MatmulKernelsTest, LinearGeluMatchesCpuFusedAndUnfused) {
  // Output widths divisible by 8 take cuBLASLt's GELU_AUX[_BIAS] epilogue; 65 and 7 take the
  // product followed by the GELU kernel. Both must agree with the CPU, forward and backward.
  const LinearCase cases[] = {{Shape{37, 129}, 64}, {Shape{2, 37, 129}, 65},
                              {Shape{128, 256}, 512}, {Shape{129}, 7}, {Shape{5, 0}, 16}};
  expect_layers_match_cpu(&linear_gelu, cases, 400);
}

TEST_F(MatmulKernelsTest, FeedForwardMatchesCpuFusedAndUnfused) {
  // Hidden widths divisible by 8 take cuBLASLt's DGELU_BGRAD in the backward; 13 and 7 take the
  // product followed by the GELU-derivative and column-sum kernels. Each weight gradient with
  // its bias takes BGRADB.
  const TensorFunction with_biases = [](const std::vector<Tensor>& in) {
    return feed_forward(in[0], in[1], in[2], in[3], in[4]);
  };
  const TensorFunction without_biases = [](const std::vector<Tensor>& in) {
    return feed_forward(in[0], in[1], Tensor(), in[2], Tensor());
  };
  struct Case {
    Shape x;
    int64_t hidden;
    int64_t out;
  };
  const Case cases[] = {{Shape{37, 64}, 256, 64}, {Shape{2, 9, 24}, 13, 24}, {Shape{1, 16}, 64, 8},
                        {Shape{129}, 7, 5}};
  uint64_t seed = 500;
  for (const DType dtype : kFloatTypes) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << dtype << " x " << c.x << " via " << c.hidden << " to "
                                        << c.out);
      const Tensor x = random_input(c.x, seed, dtype);
      const Tensor w1 = random_input(Shape{c.hidden, c.x[c.x.rank() - 1]}, seed + 1, dtype, 0.3f);
      const Tensor b1 = random_input(Shape{c.hidden}, seed + 2, dtype);
      const Tensor w2 = random_input(Shape{c.out, c.hidden}, seed + 3, dtype, 0.3f);
      const Tensor b2 = random_input(Shape{c.out}, seed + 4, dtype);
      seed += 5;
      expect_matches_cpu(with_biases, {x, w1, b1, w2, b2}, tolerance_for(dtype));
      expect_matches_cpu(without_biases, {x, w1, w2}, tolerance_for(dtype));
    }
  }
}

// One product with a backward epilogue on `device`, from CPU operands; returns out and
// bias_grad (undefined without one) on the CPU. Outputs are fresh, so poisoned on the GPU.
std::pair<Tensor, Tensor> run_backward_epilogue(Device device, const GemmArgs& cpu_args) {
  GemmArgs args = cpu_args;
  args.a = cpu_args.a.to(device);
  args.b = cpu_args.b.to(device);
  args.out = Tensor::empty(cpu_args.out.shape(), cpu_args.out.dtype(), device);
  if (cpu_args.pre_activation.defined()) args.pre_activation = cpu_args.pre_activation.to(device);
  if (cpu_args.bias_grad.defined()) {
    args.bias_grad = Tensor::empty(cpu_args.bias_grad.shape(), cpu_args.bias_grad.dtype(), device);
  }
  backend_for(device).gemm(args);
  return {args.out.to(Device::cpu()),
          args.bias_grad.defined() ? args.bias_grad.to(Device::cpu()) : Tensor()};
}

TEST_F(MatmulKernelsTest, BackwardEpiloguesMatchCpuFusedAndUnfused) {
  struct Case {
    GemmEpilogue epilogue;
    Transpose transpose_a;
    int64_t m, k, n;
    float alpha;
    bool bias_grad;
  };
  const Case cases[] = {
      {GemmEpilogue::kBiasGradient, Transpose::kYes, 64, 37, 129, 1.0f, true},   // BGRADB
      {GemmEpilogue::kBiasGradient, Transpose::kNo, 33, 20, 16, 1.0f, true},     // a not transposed
      {GemmEpilogue::kBiasGradient, Transpose::kYes, 8, 5, 24, 0.5f, true},      // alpha: unfused
      {GemmEpilogue::kGeluBackwardBiasGradient, Transpose::kNo, 37, 64, 128, 1.0f, true},
      {GemmEpilogue::kGeluBackwardBiasGradient, Transpose::kNo, 37, 64, 128, 1.0f, false},
      {GemmEpilogue::kGeluBackwardBiasGradient, Transpose::kNo, 1, 16, 13, 1.0f, true},  // ld 13
      {GemmEpilogue::kGeluBackwardBiasGradient, Transpose::kYes, 9, 0, 16, 1.0f, true},  // k 0
  };
  uint64_t seed = 600;
  for (const DType dtype : kFloatTypes) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << dtype << " epilogue " << static_cast<int>(c.epilogue)
                                        << " m " << c.m << " k " << c.k << " n " << c.n);
      GemmArgs args;
      args.epilogue = c.epilogue;
      args.transpose_a = c.transpose_a;
      args.m = c.m;
      args.k = c.k;
      args.n = c.n;
      args.alpha = c.alpha;
      args.a = random_input(c.transpose_a == Transpose::kYes ? Shape{c.k, c.m} : Shape{c.m, c.k},
                            seed, dtype);
      args.b = random_input(Shape{c.k, c.n}, seed + 1, dtype);
      args.out = Tensor::empty(Shape{c.m, c.n}, dtype);
      if (c.epilogue == GemmEpilogue::kGeluBackwardBiasGradient) {
        args.pre_activation = random_input(Shape{c.m, c.n}, seed + 2, dtype);
      }
      const int64_t bias_length = c.epilogue == GemmEpilogue::kBiasGradient ? c.m : c.n;
      if (c.bias_grad) args.bias_grad = Tensor::empty(Shape{bias_length}, dtype);
      seed += 3;
      const auto [cpu_out, cpu_bias_grad] = run_backward_epilogue(Device::cpu(), args);
      const auto [gpu_out, gpu_bias_grad] = run_backward_epilogue(gpu(), args);
      expect_relative_close(gpu_out, cpu_out, tolerance_for(dtype));
      if (c.bias_grad) expect_relative_close(gpu_bias_grad, cpu_bias_grad, tolerance_for(dtype));
    }
  }
}

TEST_F(MatmulKernelsTest, LinearWithNoInputFeaturesGivesTheBias) {
  // k == 0: the product is empty and every output row is the bias.
  for (const DType dtype : kFloatTypes) {
    SCOPED_TRACE(::testing::Message() << dtype);
    expect_matches_cpu(
        [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
        {random_input(Shape{5, 0}, 300, dtype), random_input(Shape{4, 0}, 301, dtype),
         random_input(Shape{4}, 302, dtype)},
        tolerance_for(dtype));
  }
}

TEST_F(MatmulKernelsTest, TransposeMovesBytesLikeCpu) {
  const Shape shapes[] = {Shape{37, 129}, Shape{3, 37, 129}, Shape{1, 1}, Shape{1, 129},
                          Shape{0, 5},    Shape{257, 1000}};
  uint64_t seed = 400;
  for (const DType dtype : {DType::kF32, DType::kBF16, DType::kI64, DType::kU8}) {
    for (const Shape& shape : shapes) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      // Integer inputs are the cast of random floats scaled so the values differ.
      const Tensor x = random_input(shape, seed++, DType::kF32, 100.0f).to(dtype);
      const Tensor expected = transpose(x);
      const Tensor actual = transpose(x.to(gpu())).to(Device::cpu());
      ASSERT_EQ(actual.shape(), expected.shape());
      if (expected.nbytes() > 0) {
        EXPECT_EQ(std::memcmp(actual.raw_data(), expected.raw_data(), expected.nbytes()), 0);
      }
    }
  }
}

TEST_F(MatmulKernelsTest, TransposeBackwardMatchesCpu) {
  uint64_t seed = 500;
  for (const DType dtype : kFloatTypes) {
    for (const Shape& shape : {Shape{37, 129}, Shape{3, 37, 129}}) {
      SCOPED_TRACE(::testing::Message() << dtype << " " << shape);
      expect_matches_cpu([](const std::vector<Tensor>& in) { return transpose(in[0]); },
                         {random_input(shape, seed++, dtype)}, tolerance_for(dtype));
    }
  }
}

}  // namespace
}  // namespace hive
