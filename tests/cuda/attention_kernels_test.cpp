// Scaled dot-product attention on the GPU against the CPU backend, forward and the gradients of
// queries, keys and values: f32, bf16 and f16, odd sizes (d = 12 and d = 1, which a fused flash
// attention would reject, and the head sizes it would take: 8, 64, 128), masked keys and rows
// whose keys are all masked. The bf16/f16 cases with d a multiple of 8 up to 128 run cuDNN's
// fused forward and backward where hive was built with cuDNN; tests check that they really did.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cuda/kernels/cudnn_attention.h"
#include "engine/core/attention_shape.h"
#include "engine/ops/attention.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::kFloatTypes;
using testing::random_input;
using testing::tolerance_for;
using testing::TensorFunction;

constexpr float kInf = std::numeric_limits<float>::infinity();

using Sizes = AttentionShape;

// attention(q, k, v, bias) with the bias as the fourth input when there is one (it gets no
// gradient on either device).
TensorFunction attention_with_scale(float scale) {
  return [scale](const std::vector<Tensor>& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], in.size() > 3 ? in[3] : Tensor(),
                                        scale);
  };
}

// [b, s_k] of zeros with every third key of batch 0 masked by -inf and the last key of batch 1
// by a large negative number.
Tensor masking_bias(const Sizes& sizes, DType dtype) {
  std::vector<float> values(static_cast<size_t>(sizes.batch * sizes.key_length), 0.0f);
  for (int64_t c = 0; c < sizes.key_length; c += 3) values[static_cast<size_t>(c)] = -kInf;
  if (sizes.batch > 1 && sizes.key_length > 1) {
    values[static_cast<size_t>(2 * sizes.key_length - 1)] = -1e9f;
  }
  return Tensor::from_vector(values, Shape{sizes.batch, sizes.key_length}).to(dtype);
}

class AttentionKernelsTest : public testing::CudaTest {
 protected:
  // Forward and gradients against the CPU, without a bias, with a random one and with a masking
  // one, for each of `cases` in `dtype`.
  static void expect_cases_match_cpu(const std::vector<Sizes>& cases, DType dtype, uint64_t seed) {
    for (const Sizes& sizes : cases) {
      SCOPED_TRACE(::testing::Message()
                   << dtype << " b " << sizes.batch << " s_q " << sizes.query_length << " s_k "
                   << sizes.key_length << " heads " << sizes.heads << " d " << sizes.head_size);
      const Shape query_shape{sizes.batch, sizes.query_length, sizes.heads, sizes.head_size};
      const Shape key_shape{sizes.batch, sizes.key_length, sizes.heads, sizes.head_size};
      const Tensor q = random_input(query_shape, seed, dtype);
      const Tensor k = random_input(key_shape, seed + 1, dtype);
      const Tensor v = random_input(key_shape, seed + 2, dtype);
      const Tensor bias = random_input(Shape{sizes.batch, sizes.key_length}, seed + 3, dtype);
      seed += 4;
      const TensorFunction f = attention_with_scale(
          static_cast<float>(1.0 / std::sqrt(static_cast<double>(sizes.head_size))));
      {
        SCOPED_TRACE("no bias");
        expect_matches_cpu(f, {q, k, v}, tolerance_for(dtype));
      }
      {
        SCOPED_TRACE("random bias");
        expect_matches_cpu(f, {q, k, v, bias}, tolerance_for(dtype));
      }
      {
        SCOPED_TRACE("masking bias");
        expect_matches_cpu(f, {q, k, v, masking_bias(sizes, dtype)}, tolerance_for(dtype));
      }
    }
  }
};

TEST_F(AttentionKernelsTest, MatchesCpuOnOddSizes) {
  const std::vector<Sizes> cases = {{2, 5, 7, 3, 12}, {1, 1, 1, 1, 1}, {3, 4, 1, 2, 5},
                                    {2, 1, 6, 3, 12}, {2, 33, 70, 4, 12}};
  uint64_t seed = 100;
  for (const DType dtype : kFloatTypes) {
    expect_cases_match_cpu(cases, dtype, seed);
    seed += 100;
  }
}

TEST_F(AttentionKernelsTest, MatchesCpuOnFlashAttentionHeadSizes) {
  // The head sizes and dtypes a fused flash attention (cuDNN's) would take, and f32.
  const std::vector<Sizes> cases = {{2, 37, 53, 3, 64}, {1, 1, 1, 1, 64}, {2, 128, 128, 2, 128},
                                    {3, 16, 9, 1, 8}};
  uint64_t seed = 500;
  for (const DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
    expect_cases_match_cpu(cases, dtype, seed);
    seed += 100;
  }
}

TEST_F(AttentionKernelsTest, FusedPathMatchesCpuAndRuns) {
  // Shapes cuDNN's fused forward takes (bf16/f16, d 64 and 128, s_q != s_k, b and heads > 1,
  // s_k a multiple of 8 for the bias's rows), with no bias, a random one and a masking one;
  // forward and all three gradients, both fused.
  if (!cuda::fused_attention_device(gpu().index)) {
    GTEST_SKIP() << "hive built without cuDNN, or the device is older than sm80";
  }
  const std::vector<Sizes> cases = {{2, 37, 56, 3, 64}, {2, 64, 40, 2, 128}, {3, 1, 16, 2, 64}};
  uint64_t seed = 1300;
  for (const DType dtype : {DType::kBF16, DType::kF16}) {
    const uint64_t before = cuda::fused_attention_runs();
    const uint64_t backward_before = cuda::fused_attention_backward_runs();
    expect_cases_match_cpu(cases, dtype, seed);
    seed += 100;
    // Three forwards and three backwards per case (no bias, random bias, masking bias), all fused.
    EXPECT_EQ(cuda::fused_attention_runs() - before, 3 * cases.size())
        << dtype << ": cuDNN declined a shape it should take (see stderr for why)";
    EXPECT_EQ(cuda::fused_attention_backward_runs() - backward_before, 3 * cases.size())
        << dtype << ": cuDNN's backward declined a shape it should take (see stderr for why)";
  }
}

TEST_F(AttentionKernelsTest, FusedPathRunsForBf16HeadSize64) {
  if (!cuda::fused_attention_device(gpu().index)) {
    GTEST_SKIP() << "hive built without cuDNN, or the device is older than sm80";
  }
  const Tensor q = random_input(Shape{2, 16, 4, 64}, 1400, DType::kBF16).to(gpu());
  const Tensor k = random_input(Shape{2, 24, 4, 64}, 1401, DType::kBF16).to(gpu());
  const Tensor v = random_input(Shape{2, 24, 4, 64}, 1402, DType::kBF16).to(gpu());
  const uint64_t before = cuda::fused_attention_runs();
  const Tensor out = scaled_dot_product_attention(q, k, v, Tensor(), 0.125f);
  synchronize(gpu());
  EXPECT_EQ(cuda::fused_attention_runs(), before + 1);
  EXPECT_EQ(out.shape(), q.shape());
}

TEST_F(AttentionKernelsTest, ShapesTheFusedPathRejectsMatchCpu) {
  // d = 12 (not a multiple of 8), d = 136 (over 128), f32 and a bias over a key count that is
  // not a multiple of 8 run the general path, forward and backward, which must still match the
  // CPU; the fused path's counters must not move.
  const uint64_t before = cuda::fused_attention_runs();
  const uint64_t backward_before = cuda::fused_attention_backward_runs();
  expect_cases_match_cpu({{2, 9, 13, 3, 12}, {1, 5, 7, 2, 136}}, DType::kBF16, 1500);
  expect_cases_match_cpu({{2, 9, 13, 3, 12}}, DType::kF16, 1600);
  expect_cases_match_cpu({{2, 37, 53, 3, 64}}, DType::kF32, 1700);
  EXPECT_EQ(cuda::fused_attention_runs(), before);
  EXPECT_EQ(cuda::fused_attention_backward_runs(), backward_before);
  // bf16 d = 64 would be fused, but a bias over 53 keys has rows that are not 16-byte aligned.
  const Tensor q = random_input(Shape{2, 7, 2, 64}, 1800, DType::kBF16).to(gpu());
  const Tensor k = random_input(Shape{2, 53, 2, 64}, 1801, DType::kBF16).to(gpu());
  const Tensor bias = random_input(Shape{2, 53}, 1802, DType::kBF16).to(gpu());
  const Tensor out = scaled_dot_product_attention(q, k, k, bias, 0.125f);
  synchronize(gpu());
  EXPECT_EQ(cuda::fused_attention_runs(), before);
  EXPECT_EQ(out.shape(), q.shape());
  expect_matches_cpu(attention_with_scale(0.125f), {q, k, k, bias}, tolerance_for(DType::kBF16));
  EXPECT_EQ(cuda::fused_attention_runs(), before);
  EXPECT_EQ(cuda::fused_attention_backward_runs(), backward_before);
}

TEST_F(AttentionKernelsTest, RowsWithEveryKeyMaskedGiveZeros) {
  for (const DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (const int64_t head_size : {int64_t{12}, int64_t{64}}) {
      SCOPED_TRACE(::testing::Message() << dtype << " d " << head_size);
      const Sizes sizes{2, 6, 5, 2, head_size};
      const Shape query_shape{sizes.batch, sizes.query_length, sizes.heads, sizes.head_size};
      const Shape key_shape{sizes.batch, sizes.key_length, sizes.heads, sizes.head_size};
      // Batch 0: every key masked; batch 1: none.
      std::vector<float> bias_values(10, 0.0f);
      for (size_t c = 0; c < 5; ++c) bias_values[c] = -kInf;
      const Tensor bias = Tensor::from_vector(bias_values, Shape{2, 5}).to(dtype);
      const std::vector<Tensor> inputs = {random_input(query_shape, 900, dtype),
                                          random_input(key_shape, 901, dtype),
                                          random_input(key_shape, 902, dtype), bias};
      expect_matches_cpu(attention_with_scale(0.125f), inputs, tolerance_for(dtype));
      const testing::Outcome outcome = testing::run_on(gpu(), attention_with_scale(0.125f), inputs);
      const std::vector<float> out =
          outcome.output.to(Device::cpu()).to(DType::kF32).to_vector<float>();
      for (size_t i = 0; i < out.size() / 2; ++i) ASSERT_EQ(out[i], 0.0f) << "element " << i;
    }
  }
}

TEST_F(AttentionKernelsTest, FusedBackwardGivesZeroGradientsForRowsWithEveryKeyMasked) {
  // s_k = 8 lets cuDNN take a key bias, so batch 0's rows, whose keys are all masked, reach the
  // fused backward with logsumexp -inf: their queries' gradients, and what they add to the keys'
  // and values' (batch 0's entirely), must be exactly 0, not NaN.
  if (!cuda::fused_attention_device(gpu().index)) {
    GTEST_SKIP() << "hive built without cuDNN, or the device is older than sm80";
  }
  for (const DType dtype : {DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(::testing::Message() << dtype);
    const Sizes sizes{2, 6, 8, 2, 64};
    const Shape query_shape{sizes.batch, sizes.query_length, sizes.heads, sizes.head_size};
    const Shape key_shape{sizes.batch, sizes.key_length, sizes.heads, sizes.head_size};
    std::vector<float> bias_values(16, 0.0f);
    for (size_t c = 0; c < 8; ++c) bias_values[c] = -kInf;  // batch 0: every key masked
    const Tensor bias = Tensor::from_vector(bias_values, Shape{2, 8}).to(dtype);
    const std::vector<Tensor> inputs = {random_input(query_shape, 1900, dtype),
                                        random_input(key_shape, 1901, dtype),
                                        random_input(key_shape, 1902, dtype), bias};
    const uint64_t backward_before = cuda::fused_attention_backward_runs();
    expect_matches_cpu(attention_with_scale(0.125f), inputs, tolerance_for(dtype));
    const testing::Outcome outcome = testing::run_on(gpu(), attention_with_scale(0.125f), inputs);
    EXPECT_EQ(cuda::fused_attention_backward_runs() - backward_before, 2u)
        << "cuDNN's backward declined the shape (see stderr for why)";
    // Batch 0 is the first half of q, k and v (BSHD) and of their gradients.
    for (size_t input = 0; input < 3; ++input) {
      const std::vector<float> grad =
          outcome.grads[input].to(Device::cpu()).to(DType::kF32).to_vector<float>();
      for (size_t i = 0; i < grad.size() / 2; ++i) {
        ASSERT_EQ(grad[i], 0.0f) << "gradient of input " << input << ", element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace hive
