#include "engine/ops/grouped_matmul.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

constexpr const char* kOp = "grouped_linear";

void check_operands(const Tensor& x, std::span<const int64_t> group_rows,
                    std::span<const Tensor> weights, std::span<const Tensor> biases) {
  checks::floating(kOp, x, "x");
  checks::rank(kOp, x, 2, "x");
  HIVE_REQUIRE(!group_rows.empty(), kOp, ": no groups");
  HIVE_REQUIRE(weights.size() == group_rows.size(), kOp, ": ", weights.size(), " weights for ",
               group_rows.size(), " groups");
  HIVE_REQUIRE(biases.empty() || biases.size() == group_rows.size(), kOp, ": ", biases.size(),
               " biases for ", group_rows.size(), " groups (expected none or one per group)");
  int64_t total_rows = 0;
  for (size_t g = 0; g < group_rows.size(); ++g) {
    HIVE_REQUIRE(group_rows[g] >= 0, kOp, ": group ", g, " has ", group_rows[g], " rows");
    total_rows += group_rows[g];
  }
  HIVE_REQUIRE(total_rows == x.size(0), kOp, ": the groups hold ", total_rows,
               " rows but x has shape ", x.shape());
  const int64_t out_features = weights[0].defined() && weights[0].rank() == 2 ? weights[0].size(0) : -1;
  for (size_t g = 0; g < weights.size(); ++g) {
    checks::defined(kOp, weights[g], "weight");
    checks::same_dtype(kOp, x, weights[g]);
    checks::same_device(kOp, x, weights[g]);
    HIVE_REQUIRE(weights[g].shape() == (Shape{out_features, x.size(1)}), kOp, ": weight ", g,
                 " has shape ", weights[g].shape(), ", expected [", out_features, ", ", x.size(1),
                 "] (every group maps ", x.size(1), " features to the same number)");
    if (biases.empty()) continue;
    checks::defined(kOp, biases[g], "bias");
    checks::same_dtype(kOp, x, biases[g]);
    checks::same_device(kOp, x, biases[g]);
    HIVE_REQUIRE(biases[g].shape() == (Shape{out_features}), kOp, ": bias ", g, " has shape ",
                 biases[g].shape(), ", expected [", out_features, "]");
  }
}

// One problem per group: out_g = op(a_g) @ op(b_g) (+ bias_g), a_g and out_g views of the
// groups' rows.
GemmArgs problem(const Tensor& a, Transpose transpose_a, const Tensor& b, Transpose transpose_b,
                 const Tensor& out, const Tensor& bias) {
  GemmArgs args;
  args.a = a;
  args.b = b;
  args.out = out;
  args.bias = bias;
  args.transpose_a = transpose_a;
  args.transpose_b = transpose_b;
  args.m = out.size(0);
  args.n = out.size(1);
  args.k = transpose_a == Transpose::kYes ? a.size(0) : a.size(1);
  return args;
}

std::vector<int64_t> group_offsets(std::span<const int64_t> group_rows) {
  std::vector<int64_t> offsets(group_rows.size() + 1, 0);
  std::partial_sum(group_rows.begin(), group_rows.end(), offsets.begin() + 1);
  return offsets;
}

struct SavedForBackward {
  Tensor x;
  std::vector<int64_t> offsets;
  std::vector<Tensor> weights;
  bool has_bias = false;
};

std::vector<Tensor> grouped_linear_backward(const SavedForBackward& saved,
                                            const GradContext& context) {
  const Tensor& grad = context.grad();
  const size_t groups = saved.weights.size();
  const Device device = saved.x.device();
  std::vector<Tensor> grads(1 + groups * (saved.has_bias ? 2 : 1));
  const auto group_of = [&](const Tensor& t, size_t g) {
    return t.rows(saved.offsets[g], saved.offsets[g + 1]);
  };
  if (context.needs_grad(0)) {  // dx_g = dy_g @ W_g
    grads[0] = Tensor::empty(saved.x.shape(), saved.x.dtype(), device);
    std::vector<GemmArgs> problems;
    for (size_t g = 0; g < groups; ++g) {
      problems.push_back(problem(group_of(grad, g), Transpose::kNo, saved.weights[g],
                                 Transpose::kNo, group_of(grads[0], g), Tensor()));
    }
    backend_for(device).grouped_gemm(problems);
  }
  std::vector<GemmArgs> weight_problems;
  for (size_t g = 0; g < groups; ++g) {  // dW_g = dy_g^T @ x_g
    if (!context.needs_grad(1 + g)) continue;
    grads[1 + g] = Tensor::empty(saved.weights[g].shape(), saved.x.dtype(), device);
    weight_problems.push_back(problem(group_of(grad, g), Transpose::kYes, group_of(saved.x, g),
                                      Transpose::kNo, grads[1 + g], Tensor()));
  }
  if (saved.has_bias) {
    // db_g = ones[1, rows_g] @ dy_g: the column sums of each group as one more grouped product.
    int64_t widest = 0;
    for (size_t g = 0; g < groups; ++g) {
      widest = std::max(widest, saved.offsets[g + 1] - saved.offsets[g]);
    }
    const Tensor ones = Tensor::ones(Shape{widest}, saved.x.dtype(), device);
    for (size_t g = 0; g < groups; ++g) {
      const size_t input = 1 + groups + g;
      if (!context.needs_grad(input)) continue;
      const int64_t rows = saved.offsets[g + 1] - saved.offsets[g];
      grads[input] = Tensor::empty(Shape{grad.size(1)}, saved.x.dtype(), device);
      weight_problems.push_back(problem(ones.rows(0, rows).reshape(Shape{1, rows}), Transpose::kNo,
                                        group_of(grad, g), Transpose::kNo,
                                        grads[input].reshape(Shape{1, grad.size(1)}), Tensor()));
    }
  }
  if (!weight_problems.empty()) backend_for(device).grouped_gemm(weight_problems);
  return grads;
}

}  // namespace

Tensor grouped_linear(const Tensor& x, std::span<const int64_t> group_rows,
                      std::span<const Tensor> weights, std::span<const Tensor> biases) {
  check_operands(x, group_rows, weights, biases);
  const std::vector<int64_t> offsets = group_offsets(group_rows);
  Tensor out = Tensor::empty(Shape{x.size(0), weights[0].size(0)}, x.dtype(), x.device());
  std::vector<GemmArgs> problems;
  for (size_t g = 0; g < group_rows.size(); ++g) {
    problems.push_back(problem(x.rows(offsets[g], offsets[g + 1]), Transpose::kNo, weights[g],
                               Transpose::kYes, out.rows(offsets[g], offsets[g + 1]),
                               biases.empty() ? Tensor() : biases[g]));
  }
  backend_for(x.device()).grouped_gemm(problems);

  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), weights.begin(), weights.end());
  inputs.insert(inputs.end(), biases.begin(), biases.end());
  if (should_record(inputs)) {
    SavedForBackward saved{x.detach(), offsets, {}, !biases.empty()};
    for (const Tensor& weight : weights) saved.weights.push_back(weight.detach());
    record_op("grouped_linear", inputs, std::span<const Tensor>(&out, 1),
              [saved = std::move(saved)](const GradContext& context) {
                return grouped_linear_backward(saved, context);
              });
  }
  return out;
}

}  // namespace hive
