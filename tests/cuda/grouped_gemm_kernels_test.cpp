// The CUDA grouped GEMM (cuBLAS's grouped launch, its output preparation for biases and k == 0,
// and the gemm() fallback for badly aligned half-precision views) against the CPU backend:
// grouped_linear forward and backward with uneven, empty and one-row groups, with and without
// biases; the backend call itself with per-problem alpha, beta, transposes and biases; and
// grouped_linear against one linear per group on the GPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "engine/core/backend.h"
#include "engine/ops/grouped_matmul.h"
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

struct Layer {
  std::vector<int64_t> group_rows;
  int64_t in = 0;
  int64_t out = 0;
};

int64_t total_rows(const Layer& layer) {
  return std::accumulate(layer.group_rows.begin(), layer.group_rows.end(), int64_t{0});
}

// x, then one weight per group, then (with biases) one bias per group: CPU tensors from `seed`.
std::vector<Tensor> layer_inputs(const Layer& layer, bool with_bias, DType dtype, uint64_t seed) {
  std::vector<Tensor> inputs{random_input(Shape{total_rows(layer), layer.in}, seed++, dtype)};
  for (size_t g = 0; g < layer.group_rows.size(); ++g) {
    inputs.push_back(random_input(Shape{layer.out, layer.in}, seed++, dtype));
  }
  for (size_t g = 0; with_bias && g < layer.group_rows.size(); ++g) {
    inputs.push_back(random_input(Shape{layer.out}, seed++, dtype));
  }
  return inputs;
}

TensorFunction grouped_layer(const Layer& layer, bool with_bias) {
  return [group_rows = layer.group_rows, with_bias](const std::vector<Tensor>& in) {
    const auto groups = static_cast<ptrdiff_t>(group_rows.size());
    const std::vector<Tensor> weights(in.begin() + 1, in.begin() + 1 + groups);
    const std::vector<Tensor> biases =
        with_bias ? std::vector<Tensor>(in.begin() + 1 + groups, in.end()) : std::vector<Tensor>();
    return grouped_linear(in[0], group_rows, weights, biases);
  };
}

// Empty groups (their weight gradients are k == 0 products), a one-row group, uneven sizes;
// widths that keep every bf16 view 16-byte aligned, and odd ones whose views are not: with 33
// inputs, group 1's two rows start 66 bytes into x, short of the 4-byte alignment that a k of
// two rows asks for, so its weight and bias gradients take the gemm() fallback.
const Layer kLayers[] = {
    {{5, 0, 1, 17, 64, 0, 3}, 64, 48},
    {{300, 0, 1, 129, 64}, 256, 512},
    {{1, 2, 0, 7, 12}, 33, 17},
    {{1}, 8, 8},
    {{0, 0, 0}, 16, 24},
};

class GroupedGemmKernelsTest : public testing::CudaTest {};

TEST_F(GroupedGemmKernelsTest, GroupedLinearMatchesCpuForwardAndBackward) {
  uint64_t seed = 1;
  for (const DType dtype : kFloatTypes) {
    for (const Layer& layer : kLayers) {
      for (const bool with_bias : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << dtype << ", " << layer.group_rows.size() << " groups, " << layer.in
                     << " -> " << layer.out << (with_bias ? ", with biases" : ", no biases"));
        expect_matches_cpu(grouped_layer(layer, with_bias),
                           layer_inputs(layer, with_bias, dtype, seed), tolerance_for(dtype));
        seed += 100;
      }
    }
  }
}

TEST_F(GroupedGemmKernelsTest, GroupedLinearEqualsOneLinearPerGroupOnGpu) {
  uint64_t seed = 1000;
  for (const DType dtype : kFloatTypes) {
    for (const Layer& layer : kLayers) {
      SCOPED_TRACE(::testing::Message() << dtype << ", " << layer.group_rows.size()
                                        << " groups, " << layer.in << " -> " << layer.out);
      std::vector<Tensor> inputs = layer_inputs(layer, true, dtype, seed);
      seed += 100;
      for (Tensor& input : inputs) input = input.to(gpu());
      const Tensor grouped = grouped_layer(layer, true)(inputs);
      const size_t groups = layer.group_rows.size();
      int64_t first = 0;
      for (size_t g = 0; g < groups; ++g) {
        const int64_t end = first + layer.group_rows[g];
        if (end > first) {
          SCOPED_TRACE(::testing::Message() << "group " << g);
          expect_relative_close(grouped.rows(first, end),
                                linear(inputs[0].rows(first, end), inputs[1 + g],
                                       inputs[1 + groups + g]),
                                tolerance_for(dtype));
        }
        first = end;
      }
    }
  }
}

// What the op never asks for, all in one call: alpha and beta other than 1 and 0, transposed
// operands, a k == 0 problem with a bias and beta, problems with m == 0 or n == 0, and a b that
// starts one odd-length row into its tensor (the gemm() fallback in bf16). beta reads the
// outputs' previous values, so both backends start from the same ones.
TEST_F(GroupedGemmKernelsTest, BackendAppliesEachProblemsScalarsTransposesAndBias) {
  struct Problem {
    int64_t m, n, k;
    Transpose transpose_a, transpose_b;
    float alpha, beta;
    bool bias;
    bool b_from_second_row;
  };
  const Problem problems[] = {
      {16, 24, 32, Transpose::kNo, Transpose::kNo, 1.0f, 0.0f, false, false},
      {9, 40, 8, Transpose::kYes, Transpose::kNo, 0.5f, 1.0f, true, false},
      {32, 8, 64, Transpose::kNo, Transpose::kYes, 2.0f, -0.5f, false, false},
      {8, 16, 16, Transpose::kYes, Transpose::kYes, 1.0f, 0.25f, true, false},
      {5, 16, 0, Transpose::kNo, Transpose::kNo, 1.0f, 0.5f, true, false},
      {3, 8, 0, Transpose::kNo, Transpose::kNo, 1.0f, 0.0f, false, false},
      {0, 8, 4, Transpose::kNo, Transpose::kNo, 1.0f, 0.0f, true, false},
      {4, 0, 4, Transpose::kNo, Transpose::kNo, 1.0f, 0.0f, false, false},
      {7, 33, 13, Transpose::kNo, Transpose::kNo, 1.0f, 1.0f, true, false},
      {6, 33, 8, Transpose::kNo, Transpose::kNo, 1.0f, 0.5f, true, true},
  };
  uint64_t seed = 5000;
  for (const DType dtype : kFloatTypes) {
    SCOPED_TRACE(::testing::Message() << dtype);
    std::vector<GemmArgs> on_cpu;
    std::vector<GemmArgs> on_gpu;
    for (const Problem& p : problems) {
      GemmArgs args;
      args.transpose_a = p.transpose_a;
      args.transpose_b = p.transpose_b;
      args.m = p.m;
      args.n = p.n;
      args.k = p.k;
      args.alpha = p.alpha;
      args.beta = p.beta;
      args.a = random_input(p.transpose_a == Transpose::kYes ? Shape{p.k, p.m} : Shape{p.m, p.k},
                            seed++, dtype);
      const int64_t skipped = p.b_from_second_row ? 1 : 0;
      const Tensor b = random_input(p.transpose_b == Transpose::kYes ? Shape{p.n + skipped, p.k}
                                                                     : Shape{p.k + skipped, p.n},
                                    seed++, dtype);
      args.out = random_input(Shape{p.m, p.n}, seed++, dtype);
      if (p.bias) args.bias = random_input(Shape{p.n}, seed++, dtype);
      GemmArgs copy = args;
      copy.a = args.a.to(gpu());
      args.b = b.rows(skipped, b.size(0));
      copy.b = b.to(gpu()).rows(skipped, b.size(0));
      copy.out = args.out.to(gpu());
      if (p.bias) copy.bias = args.bias.to(gpu());
      on_cpu.push_back(args);
      on_gpu.push_back(copy);
    }
    backend_for(Device::cpu()).grouped_gemm(on_cpu);
    backend_for(gpu()).grouped_gemm(on_gpu);
    for (size_t i = 0; i < on_cpu.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "problem " << i);
      expect_relative_close(on_gpu[i].out, on_cpu[i].out, tolerance_for(dtype));
    }
  }
}

}  // namespace
}  // namespace hive
