#include "engine/ops/matmul.h"

#include <utility>
#include <vector>

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"
#include "engine/ops/elementwise.h"

namespace hive {
namespace {

// A matrix operand: `rows x cols` as stored, `count` of them `stride` elements apart (stride 0:
// one matrix shared by the whole batch).
struct MatrixOperand {
  Tensor tensor;
  int64_t rows;
  int64_t cols;
  int64_t stride;
};

// out = op(a) @ op(b) (+ bias), batched over `batch`. Shapes must already be checked.
void gemm_into(const MatrixOperand& a, Transpose transpose_a, const MatrixOperand& b,
               Transpose transpose_b, const Tensor& out, int64_t batch, float beta,
               const Tensor& bias = Tensor(), GemmEpilogue epilogue = GemmEpilogue::kNone,
               const Tensor& pre_activation = Tensor(), const Tensor& bias_grad = Tensor()) {
  GemmArgs args;
  args.epilogue = epilogue;
  args.pre_activation = pre_activation;
  args.bias_grad = bias_grad;
  args.a = a.tensor;
  args.b = b.tensor;
  args.out = out;
  args.bias = bias;
  args.transpose_a = transpose_a;
  args.transpose_b = transpose_b;
  args.batch = batch;
  args.m = transpose_a == Transpose::kYes ? a.cols : a.rows;
  args.k = transpose_a == Transpose::kYes ? a.rows : a.cols;
  args.n = transpose_b == Transpose::kYes ? b.rows : b.cols;
  args.stride_a = a.stride;
  args.stride_b = b.stride;
  args.stride_out = batch > 1 ? args.m * args.n : 0;
  args.beta = beta;
  backend_for(out.device()).gemm(args);
}

MatrixOperand as_matrix(const Tensor& t) {
  return {t, t.size(-2), t.size(-1), t.size(-2) * t.size(-1)};
}

// [..., rows, cols] with all leading dimensions folded into the rows: one big matrix. Counted
// from the shape, not as numel / cols, so that cols == 0 works.
MatrixOperand as_folded_matrix(const Tensor& t) {
  return {t, t.shape().numel(0, t.rank() - 1), t.size(-1), 0};
}

void check_matmul_operands(const char* op, const Tensor& a, const Tensor& b) {
  checks::floating(op, a, "a");
  checks::floating(op, b, "b");
  checks::same_dtype(op, a, b);
  checks::same_device(op, a, b);
}

void check_linear_operands(const char* op, const Tensor& x, const Tensor& weight,
                           const Tensor& bias) {
  check_matmul_operands(op, x, weight);
  checks::min_rank(op, x, 1, "x");
  checks::rank(op, weight, 2, "weight");
  HIVE_REQUIRE(x.size(-1) == weight.size(1), op, ": x has shape ", x.shape(),
               " but weight has shape ", weight.shape(), "; expected weight [out, ", x.size(-1),
               "]");
  if (bias.defined()) {
    check_matmul_operands(op, x, bias);
    HIVE_REQUIRE(bias.rank() == 1 && bias.size(0) == weight.size(0), op, ": bias has shape ",
                 bias.shape(), ", expected [", weight.size(0), "] for weight of shape ",
                 weight.shape());
  }
}

MatrixOperand as_weight(const Tensor& weight) { return {weight, weight.size(0), weight.size(1), 0}; }

// dW = dy^T @ input, for a layer out = input @ weight^T (+ bias).
Tensor weight_gradient(const Tensor& grad_out, const Tensor& input, const Tensor& weight) {
  Tensor grad_weight = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
  gemm_into(as_folded_matrix(grad_out), Transpose::kYes, as_folded_matrix(input), Transpose::kNo,
            grad_weight, 1, 0.0f);
  return grad_weight;
}

// The gradients of a layer's weight and bias, inputs weight_input and weight_input + 1 of
// `context`, each only if needed: dW = dy^T @ input, db = the column sums of dy. When both are
// needed, one product gives both (the kBiasGradient epilogue sums dy as it reads it).
std::pair<Tensor, Tensor> parameter_gradients(const GradContext& context, size_t weight_input,
                                              const Tensor& grad_out, const Tensor& input,
                                              const Tensor& weight) {
  const bool need_weight = context.needs_grad(weight_input);
  const bool need_bias = context.needs_grad(weight_input + 1);
  const Shape bias_shape{weight.size(0)};
  if (need_weight && need_bias) {
    Tensor grad_weight = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
    Tensor grad_bias = Tensor::empty(bias_shape, weight.dtype(), weight.device());
    gemm_into(as_folded_matrix(grad_out), Transpose::kYes, as_folded_matrix(input),
              Transpose::kNo, grad_weight, 1, 0.0f, Tensor(), GemmEpilogue::kBiasGradient,
              Tensor(), grad_bias);
    return {grad_weight, grad_bias};
  }
  if (need_weight) return {weight_gradient(grad_out, input, weight), Tensor()};
  if (need_bias) return {Tensor(), sum_to(grad_out, bias_shape)};
  return {};
}

// The gradients of x, weight and bias (the inputs of `context`) of out = x @ weight^T + bias,
// given the gradient of out.
std::vector<Tensor> linear_gradients(const GradContext& context, const Tensor& grad_out,
                                     const Tensor& x, const Tensor& weight) {
  Tensor grad_x;
  if (context.needs_grad(0)) {  // dx = dy @ W
    grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
    gemm_into(as_folded_matrix(grad_out), Transpose::kNo, as_weight(weight), Transpose::kNo,
              grad_x, 1, 0.0f);
  }
  auto [grad_weight, grad_bias] = parameter_gradients(context, 1, grad_out, x, weight);
  return {grad_x, grad_weight, grad_bias};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_operands("matmul", a, b);
  checks::min_rank("matmul", a, 2, "a");
  checks::min_rank("matmul", b, 2, "b");
  HIVE_REQUIRE(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: a ", a.shape(), " @ b ",
               b.shape(), " (", a.size(-1), " vs ", b.size(-2), ")");
  const bool shared_b = b.rank() == 2;
  if (!shared_b) {
    HIVE_REQUIRE(a.rank() == b.rank(), "matmul: batched operands need the same rank: a ",
                 a.shape(), " @ b ", b.shape());
    for (int axis = 0; axis < a.rank() - 2; ++axis) {
      HIVE_REQUIRE(a.shape()[axis] == b.shape()[axis], "matmul: batch dimensions differ: a ",
                   a.shape(), " @ b ", b.shape(), " (axis ", axis, ")");
    }
  }
  const Shape out_shape = a.shape().with(a.rank() - 1, b.size(-1));
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const MatrixOperand b_operand = shared_b ? MatrixOperand{b, b.size(0), b.size(1), 0}
                                           : as_matrix(b);
  const MatrixOperand a_operand = shared_b ? as_folded_matrix(a) : as_matrix(a);
  const int64_t batch = shared_b ? 1 : a.shape().numel(0, a.rank() - 2);
  gemm_into(a_operand, Transpose::kNo, b_operand, Transpose::kNo, out, batch, 0.0f);

  if (should_record({&a, &b})) {
    record_op("matmul", {&a, &b}, {&out},
              [a = a.detach(), b = b.detach(), shared_b, batch](const GradContext& context)
                  -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_a;
                Tensor grad_b;
                if (context.needs_grad(0)) {  // dA = dC @ B^T
                  grad_a = Tensor::empty(a.shape(), a.dtype(), a.device());
                  const MatrixOperand g = shared_b ? as_folded_matrix(grad) : as_matrix(grad);
                  const MatrixOperand b_matrix =
                      shared_b ? MatrixOperand{b, b.size(0), b.size(1), 0} : as_matrix(b);
                  gemm_into(g, Transpose::kNo, b_matrix, Transpose::kYes, grad_a, batch, 0.0f);
                }
                if (context.needs_grad(1)) {  // dB = A^T @ dC (summed over a shared B's uses)
                  grad_b = Tensor::empty(b.shape(), b.dtype(), b.device());
                  if (shared_b) {
                    gemm_into(as_folded_matrix(a), Transpose::kYes, as_folded_matrix(grad),
                              Transpose::kNo, grad_b, 1, 0.0f);
                  } else {
                    gemm_into(as_matrix(a), Transpose::kYes, as_matrix(grad), Transpose::kNo,
                              grad_b, batch, 0.0f);
                  }
                }
                return {grad_a, grad_b};
              });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear_operands("linear", x, weight, bias);
  Tensor out = Tensor::empty(x.shape().with(x.rank() - 1, weight.size(0)), x.dtype(), x.device());
  const MatrixOperand w_operand{weight, weight.size(0), weight.size(1), 0};
  gemm_into(as_folded_matrix(x), Transpose::kNo, w_operand, Transpose::kYes, out, 1, 0.0f, bias);

  if (should_record({&x, &weight, &bias})) {
    record_op("linear", {&x, &weight, &bias}, {&out},
              [x = x.detach(), weight = weight.detach()](const GradContext& context) {
                return linear_gradients(context, context.grad(), x, weight);
              });
  }
  return out;
}

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear_operands("linear_gelu", x, weight, bias);
  const Shape out_shape = x.shape().with(x.rank() - 1, weight.size(0));
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const bool record = should_record({&x, &weight, &bias});
  // Only a backward needs the value before the GELU.
  const Tensor pre_activation = record ? Tensor::empty(out_shape, x.dtype(), x.device()) : Tensor();
  const MatrixOperand w_operand{weight, weight.size(0), weight.size(1), 0};
  gemm_into(as_folded_matrix(x), Transpose::kNo, w_operand, Transpose::kYes, out, 1, 0.0f, bias,
            GemmEpilogue::kGelu, pre_activation);

  if (record) {
    record_op("linear_gelu", {&x, &weight, &bias}, {&out},
              [x = x.detach(), weight = weight.detach(), pre_activation, out = out.detach()](
                  const GradContext& context) {
                Tensor grad_pre = Tensor::empty(pre_activation.shape(), pre_activation.dtype(),
                                                pre_activation.device());
                backend_for(grad_pre.device())
                    .unary_backward(UnaryOp::kGelu, context.grad(), pre_activation, out, grad_pre);
                return linear_gradients(context, grad_pre, x, weight);
              });
  }
  return out;
}

Tensor feed_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                    const Tensor& b2) {
  check_linear_operands("feed_forward", x, w1, b1);
  check_matmul_operands("feed_forward", x, w2);
  checks::rank("feed_forward", w2, 2, "w2");
  HIVE_REQUIRE(w2.size(1) == w1.size(0), "feed_forward: w1 has shape ", w1.shape(),
               " but w2 has shape ", w2.shape(), "; expected w2 [out, ", w1.size(0), "]");
  if (b2.defined()) {
    check_matmul_operands("feed_forward", x, b2);
    HIVE_REQUIRE(b2.rank() == 1 && b2.size(0) == w2.size(0), "feed_forward: b2 has shape ",
                 b2.shape(), ", expected [", w2.size(0), "] for w2 of shape ", w2.shape());
  }
  const Shape hidden_shape = x.shape().with(x.rank() - 1, w1.size(0));
  Tensor hidden = Tensor::empty(hidden_shape, x.dtype(), x.device());
  const bool record = should_record({&x, &w1, &b1, &w2, &b2});
  // Only a backward needs the value before the GELU.
  const Tensor pre_activation =
      record ? Tensor::empty(hidden_shape, x.dtype(), x.device()) : Tensor();
  gemm_into(as_folded_matrix(x), Transpose::kNo, as_weight(w1), Transpose::kYes, hidden, 1, 0.0f,
            b1, GemmEpilogue::kGelu, pre_activation);
  Tensor out = Tensor::empty(x.shape().with(x.rank() - 1, w2.size(0)), x.dtype(), x.device());
  gemm_into(as_folded_matrix(hidden), Transpose::kNo, as_weight(w2), Transpose::kYes, out, 1, 0.0f,
            b2);

  if (record) {
    record_op("feed_forward", {&x, &w1, &b1, &w2, &b2}, {&out},
              [x = x.detach(), w1 = w1.detach(), w2 = w2.detach(), hidden, pre_activation](
                  const GradContext& context) -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                auto [grad_w2, grad_b2] = parameter_gradients(context, 3, grad, hidden, w2);
                Tensor grad_x;
                Tensor grad_w1;
                Tensor grad_b1;
                if (context.needs_grad(0) || context.needs_grad(1) || context.needs_grad(2)) {
                  // dpre = (dy @ W2) * gelu'(pre) in one product, which also sums db1 = the
                  // column sums of dpre when it is needed.
                  Tensor grad_pre = Tensor::empty(pre_activation.shape(), pre_activation.dtype(),
                                                  pre_activation.device());
                  if (context.needs_grad(2)) {
                    grad_b1 = Tensor::empty(Shape{w1.size(0)}, w1.dtype(), w1.device());
                  }
                  gemm_into(as_folded_matrix(grad), Transpose::kNo, as_weight(w2), Transpose::kNo,
                            grad_pre, 1, 0.0f, Tensor(), GemmEpilogue::kGeluBackwardBiasGradient,
                            pre_activation, grad_b1);
                  if (context.needs_grad(0)) {  // dx = dpre @ W1
                    grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
                    gemm_into(as_folded_matrix(grad_pre), Transpose::kNo, as_weight(w1),
                              Transpose::kNo, grad_x, 1, 0.0f);
                  }
                  if (context.needs_grad(1)) grad_w1 = weight_gradient(grad_pre, x, w1);
                }
                return {grad_x, grad_w1, grad_b1, grad_w2, grad_b2};
              });
  }
  return out;
}

Tensor transpose(const Tensor& x) {
  checks::defined("transpose", x, "x");
  checks::min_rank("transpose", x, 2, "x");
  Shape out_shape = x.shape();
  out_shape[x.rank() - 2] = x.size(-1);
  out_shape[x.rank() - 1] = x.size(-2);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  backend_for(x.device()).transpose(x, out);
  if (should_record({&x})) {
    record_op("transpose", {&x}, {&out}, [](const GradContext& context) -> std::vector<Tensor> {
      return {transpose(context.grad())};
    });
  }
  return out;
}

}  // namespace hive
