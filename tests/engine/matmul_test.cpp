#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

// out[b] = a[b] @ b[b] in double for `batch` matrices; a stride of 0 shares one matrix.
std::vector<float> naive_matmul(const Tensor& a, const Tensor& b, int64_t batch, int64_t m,
                                int64_t k, int64_t n, int64_t stride_a, int64_t stride_b) {
  const std::vector<float> va = a.to_vector<float>();
  const std::vector<float> vb = b.to_vector<float>();
  std::vector<float> out(static_cast<size_t>(batch * m * n));
  for (int64_t p = 0; p < batch; ++p) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double total = 0.0;
        for (int64_t l = 0; l < k; ++l) {
          total += static_cast<double>(va[static_cast<size_t>(p * stride_a + i * k + l)]) *
                   vb[static_cast<size_t>(p * stride_b + l * n + j)];
        }
        out[static_cast<size_t>((p * m + i) * n + j)] = static_cast<float>(total);
      }
    }
  }
  return out;
}

// x [rows, in] @ weight[out, in]^T + bias in double.
std::vector<float> naive_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t in = weight.size(1);
  const int64_t out_features = weight.size(0);
  const int64_t rows = x.numel() / in;
  const std::vector<float> vx = x.to_vector<float>();
  const std::vector<float> vw = weight.to_vector<float>();
  const std::vector<float> vb = bias.defined() ? bias.to_vector<float>() : std::vector<float>();
  std::vector<float> out;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out_features; ++o) {
      double total = vb.empty() ? 0.0 : vb[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) {
        total += static_cast<double>(vx[static_cast<size_t>(r * in + i)]) *
                 vw[static_cast<size_t>(o * in + i)];
      }
      out.push_back(static_cast<float>(total));
    }
  }
  return out;
}

TEST(Matmul, TwoDimensionalMatchesNaiveLoop) {
  const Tensor a = testing::random_tensor(Shape{3, 4}, 1);
  const Tensor b = testing::random_tensor(Shape{4, 5}, 2);
  const Tensor out = matmul(a, b);
  EXPECT_EQ(out.shape(), (Shape{3, 5}));
  testing::expect_close(out, naive_matmul(a, b, 1, 3, 4, 5, 0, 0));
}

TEST(Matmul, HandComputedProduct) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{7, 8, 9, 10, 11, 12}, Shape{3, 2});
  testing::expect_close(matmul(a, b), {58, 64, 139, 154});
}

TEST(Matmul, SharedRightOperandMatchesNaiveLoop) {
  const Tensor a = testing::random_tensor(Shape{2, 3, 4}, 3);
  const Tensor b = testing::random_tensor(Shape{4, 5}, 4);
  const Tensor out = matmul(a, b);
  EXPECT_EQ(out.shape(), (Shape{2, 3, 5}));
  testing::expect_close(out, naive_matmul(a, b, 2, 3, 4, 5, 12, 0));
  const Tensor a4 = testing::random_tensor(Shape{2, 2, 3, 4}, 5);
  EXPECT_EQ(matmul(a4, b).shape(), (Shape{2, 2, 3, 5}));
  testing::expect_close(matmul(a4, b), naive_matmul(a4, b, 4, 3, 4, 5, 12, 0));
}

TEST(Matmul, BatchedMatchesNaiveLoop) {
  const Tensor a = testing::random_tensor(Shape{3, 2, 4}, 6);
  const Tensor b = testing::random_tensor(Shape{3, 4, 5}, 7);
  const Tensor out = matmul(a, b);
  EXPECT_EQ(out.shape(), (Shape{3, 2, 5}));
  testing::expect_close(out, naive_matmul(a, b, 3, 2, 4, 5, 8, 20));
}

TEST(Matmul, BatchedWithTwoBatchAxesMatchesNaiveLoop) {
  const Tensor a = testing::random_tensor(Shape{2, 2, 3, 4}, 8);
  const Tensor b = testing::random_tensor(Shape{2, 2, 4, 2}, 9);
  const Tensor out = matmul(a, b);
  EXPECT_EQ(out.shape(), (Shape{2, 2, 3, 2}));
  testing::expect_close(out, naive_matmul(a, b, 4, 3, 4, 2, 12, 8));
}

TEST(Matmul, LargeProductMatchesNaiveLoop) {
  // Large enough for BLAS to block and thread the product.
  const Tensor a = testing::random_tensor(Shape{67, 129}, 10);
  const Tensor b = testing::random_tensor(Shape{129, 33}, 11);
  testing::expect_close(matmul(a, b), naive_matmul(a, b, 1, 67, 129, 33, 0, 0), 1e-4, 1e-4);
}

TEST(Matmul, EmptyInnerDimensionGivesZeros) {
  const Tensor out = matmul(Tensor::zeros(Shape{3, 0}), Tensor::zeros(Shape{0, 4}));
  EXPECT_EQ(out.shape(), (Shape{3, 4}));
  testing::expect_close(out, std::vector<float>(12, 0.0f));
  const Tensor batched = matmul(Tensor::zeros(Shape{2, 3, 0}), Tensor::zeros(Shape{2, 0, 4}));
  testing::expect_close(batched, std::vector<float>(24, 0.0f));
}

TEST(Matmul, EmptyOuterDimensionsGiveEmptyResults) {
  EXPECT_EQ(matmul(Tensor::zeros(Shape{0, 3}), Tensor::zeros(Shape{3, 4})).shape(), (Shape{0, 4}));
  EXPECT_EQ(matmul(Tensor::zeros(Shape{3, 2}), Tensor::zeros(Shape{2, 0})).shape(), (Shape{3, 0}));
  EXPECT_EQ(matmul(Tensor::zeros(Shape{0, 2, 3}), Tensor::zeros(Shape{0, 3, 4})).shape(),
            (Shape{0, 2, 4}));
}

TEST(Matmul, EmptyRowsGiveZeroWeightGradient) {
  const Tensor a = testing::parameter({}, Shape{0, 3});
  const Tensor b = testing::random_parameter(Shape{3, 4}, 12);
  matmul(a, b).backward(Tensor::zeros(Shape{0, 4}));
  ASSERT_TRUE(b.grad().defined());
  testing::expect_close(b.grad(), std::vector<float>(12, 0.0f));
}

TEST(Matmul, LowPrecisionMatchesSinglePrecisionOnRoundedInputs) {
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor a = testing::random_tensor(Shape{2, 5, 16}, 13).to(dtype);
    const Tensor b = testing::random_tensor(Shape{16, 7}, 14).to(dtype);
    const Tensor out = matmul(a, b);
    EXPECT_EQ(out.dtype(), dtype);
    // Accumulation is in f32, so only the final rounding to 16 bits (2^-8 relative for bf16)
    // separates the two.
    testing::expect_close(out, matmul(a.to(DType::kF32), b.to(DType::kF32)), 1e-3, 8e-3);
  }
}

TEST(Matmul, BFloat16CloseToSinglePrecision) {
  const Tensor a = testing::random_tensor(Shape{4, 32}, 15);
  const Tensor b = testing::random_tensor(Shape{32, 6}, 16);
  // Inputs rounded to 8 significant bits: errors grow like sqrt(k) * 2^-8 * |a||b|.
  testing::expect_close(matmul(a.to(DType::kBF16), b.to(DType::kBF16)), matmul(a, b), 0.1, 0.02);
}

TEST(Matmul, GradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
      {testing::random_parameter(Shape{3, 4}, 17), testing::random_parameter(Shape{4, 2}, 18)});
}

TEST(Matmul, SharedRightOperandGradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
      {testing::random_parameter(Shape{2, 3, 4}, 19), testing::random_parameter(Shape{4, 2}, 20)});
}

TEST(Matmul, BatchedGradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
      {testing::random_parameter(Shape{2, 3, 4}, 21),
       testing::random_parameter(Shape{2, 4, 2}, 22)});
}

TEST(Matmul, GradientOfOneOperandWhenTheOtherIsConstant) {
  const Tensor a = testing::random_tensor(Shape{2, 3, 4}, 41);
  const Tensor b = testing::random_tensor(Shape{4, 2}, 42);
  testing::expect_gradients_match([&](const std::vector<Tensor>& in) { return matmul(a, in[0]); },
                                  {testing::random_parameter(Shape{4, 2}, 43)});
  testing::expect_gradients_match([&](const std::vector<Tensor>& in) { return matmul(in[0], b); },
                                  {testing::random_parameter(Shape{2, 3, 4}, 44)});
}

TEST(Matmul, RejectsMismatchedInnerDimensions) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{4, 5}));
      },
      {"matmul", "[2, 3]", "[4, 5]"}));
}

TEST(Matmul, RejectsMismatchedBatches) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{2, 3, 4}), Tensor::zeros(Shape{3, 4, 5}));
      },
      {"matmul", "batch", "[2, 3, 4]", "[3, 4, 5]"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{2, 2, 3, 4}), Tensor::zeros(Shape{2, 4, 5}));
      },
      {"matmul", "[2, 2, 3, 4]", "[2, 4, 5]"}));
}

TEST(Matmul, RejectsRankOne) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{3}), Tensor::zeros(Shape{3, 4}));
      },
      {"matmul", "[3]"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3}));
      },
      {"matmul", "[3]"}));
}

TEST(Matmul, RejectsMixedDtypesAndIntegers) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3, 4}, DType::kBF16));
      },
      {"matmul", "bf16", "[3, 4]"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        matmul(Tensor::zeros(Shape{2, 3}, DType::kI32), Tensor::zeros(Shape{3, 4}, DType::kI32));
      },
      {"matmul", "i32", "[2, 3]"}));
}

TEST(Linear, WithBiasMatchesNaiveLoop) {
  const Tensor x = testing::random_tensor(Shape{4, 3}, 23);
  const Tensor weight = testing::random_tensor(Shape{5, 3}, 24);
  const Tensor bias = testing::random_tensor(Shape{5}, 25);
  const Tensor out = linear(x, weight, bias);
  EXPECT_EQ(out.shape(), (Shape{4, 5}));
  testing::expect_close(out, naive_linear(x, weight, bias));
}

TEST(Linear, WithoutBiasMatchesNaiveLoop) {
  const Tensor x = testing::random_tensor(Shape{2, 3, 6}, 26);
  const Tensor weight = testing::random_tensor(Shape{4, 6}, 27);
  const Tensor out = linear(x, weight, Tensor());
  EXPECT_EQ(out.shape(), (Shape{2, 3, 4}));
  testing::expect_close(out, naive_linear(x, weight, Tensor()));
}

TEST(Linear, OneDimensionalInputMatchesNaiveLoop) {
  const Tensor x = testing::random_tensor(Shape{3}, 28);
  const Tensor weight = testing::random_tensor(Shape{2, 3}, 29);
  const Tensor bias = testing::random_tensor(Shape{2}, 30);
  const Tensor out = linear(x, weight, bias);
  EXPECT_EQ(out.shape(), (Shape{2}));
  testing::expect_close(out, naive_linear(x, weight, bias));
}

TEST(Linear, EmptyInputFeaturesGiveTheBias) {
  const Tensor bias = Tensor::from_vector(std::vector<float>{1, -2}, Shape{2});
  testing::expect_close(linear(Tensor::zeros(Shape{3, 0}), Tensor::zeros(Shape{2, 0}), bias),
                        {1, -2, 1, -2, 1, -2});
}

TEST(Linear, LowPrecisionWithBiasMatchesSinglePrecision) {
  const Tensor x = testing::random_tensor(Shape{3, 8}, 31).to(DType::kBF16);
  const Tensor weight = testing::random_tensor(Shape{4, 8}, 32).to(DType::kBF16);
  const Tensor bias = testing::random_tensor(Shape{4}, 33).to(DType::kBF16);
  testing::expect_close(
      linear(x, weight, bias),
      naive_linear(x.to(DType::kF32), weight.to(DType::kF32), bias.to(DType::kF32)), 1e-3, 8e-3);
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
      {testing::random_parameter(Shape{2, 3, 4}, 34), testing::random_parameter(Shape{5, 4}, 35),
       testing::random_parameter(Shape{5}, 36)});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); },
      {testing::random_parameter(Shape{3, 4}, 37), testing::random_parameter(Shape{2, 4}, 38)});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
      {testing::random_parameter(Shape{4}, 45), testing::random_parameter(Shape{3, 4}, 46),
       testing::random_parameter(Shape{3}, 47)});
}

TEST(Linear, RejectsMismatchedWeightAndBias) {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        linear(x, Tensor::zeros(Shape{4, 5}), Tensor());
      },
      {"linear", "[2, 3]", "[4, 5]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        linear(x, Tensor::zeros(Shape{4, 3}), Tensor::zeros(Shape{3}));
      },
      {"linear", "bias", "[3]", "[4, 3]"}));
  EXPECT_TRUE(testing::throws_error([&] { linear(x, Tensor::zeros(Shape{3}), Tensor()); },
                                    {"linear", "weight", "[3]"}));
}

TEST(LinearGelu, EqualsGeluOfLinearExactly) {
  const Tensor x = testing::random_tensor(Shape{3, 5, 7}, 60);
  const Tensor weight = testing::random_tensor(Shape{9, 7}, 61);
  const Tensor bias = testing::random_tensor(Shape{9}, 62);
  testing::expect_close(linear_gelu(x, weight, bias), gelu(linear(x, weight, bias)), 0.0, 0.0);
  testing::expect_close(linear_gelu(x, weight, Tensor()), gelu(linear(x, weight, Tensor())), 0.0,
                        0.0);
  const Tensor bf16 = linear_gelu(x.to(DType::kBF16), weight.to(DType::kBF16), bias.to(DType::kBF16));
  testing::expect_close(bf16, gelu(linear(x.to(DType::kBF16), weight.to(DType::kBF16),
                                          bias.to(DType::kBF16))),
                        0.0, 0.0);
}

TEST(LinearGelu, GradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return linear_gelu(in[0], in[1], in[2]); },
      {testing::random_parameter(Shape{2, 3, 4}, 63), testing::random_parameter(Shape{5, 4}, 64),
       testing::random_parameter(Shape{5}, 65)});
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) { return linear_gelu(in[0], in[1], Tensor()); },
      {testing::random_parameter(Shape{3, 4}, 66), testing::random_parameter(Shape{2, 4}, 67)});
}

TEST(LinearGelu, RejectsMismatchedWeight) {
  EXPECT_TRUE(testing::throws_error(
      [] { linear_gelu(Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{4, 5}), Tensor()); },
      {"linear_gelu", "[2, 3]", "[4, 5]"}));
}

TEST(Transpose, SwapsTheLastTwoAxes) {
  const Tensor x = testing::random_tensor(Shape{3, 5}, 39);
  const Tensor out = transpose(x);
  EXPECT_EQ(out.shape(), (Shape{5, 3}));
  const std::vector<float> in = x.to_vector<float>();
  std::vector<float> expected;
  for (int64_t j = 0; j < 5; ++j) {
    for (int64_t i = 0; i < 3; ++i) expected.push_back(in[static_cast<size_t>(i * 5 + j)]);
  }
  EXPECT_EQ(out.to_vector<float>(), expected);
}

TEST(Transpose, SwapsEveryMatrixOfABatch) {
  // 40 x 37 spans several 32 x 32 tiles, including partial ones.
  const Tensor x = Tensor::arange(2 * 40 * 37).reshape(Shape{2, 40, 37});
  const Tensor out = transpose(x);
  EXPECT_EQ(out.shape(), (Shape{2, 37, 40}));
  const std::vector<int64_t> values = out.to_vector<int64_t>();
  for (int64_t p = 0; p < 2; ++p) {
    for (int64_t j = 0; j < 37; ++j) {
      for (int64_t i = 0; i < 40; ++i) {
        ASSERT_EQ(values[static_cast<size_t>((p * 37 + j) * 40 + i)], (p * 40 + i) * 37 + j);
      }
    }
  }
}

TEST(Transpose, HandlesEmptyAndHalfTensors) {
  EXPECT_EQ(transpose(Tensor::zeros(Shape{0, 3})).shape(), (Shape{3, 0}));
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_EQ(transpose(x.to(DType::kF16)).to_vector<float>(),
            (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(Transpose, GradientMatchesFiniteDifferences) {
  testing::expect_gradients_match([](const std::vector<Tensor>& in) { return transpose(in[0]); },
                                  {testing::random_parameter(Shape{2, 3, 4}, 40)});
}

TEST(Transpose, RejectsRankOne) {
  EXPECT_TRUE(
      testing::throws_error([] { transpose(Tensor::zeros(Shape{4})); }, {"transpose", "[4]"}));
}

}  // namespace
}  // namespace hive
