#include "engine/ops/elementwise.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/core/broadcast.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "add";
    case BinaryOp::kSub: return "sub";
    case BinaryOp::kMul: return "mul";
    case BinaryOp::kDiv: return "div";
  }
  return "binary";
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::kRelu: return "relu";
    case UnaryOp::kGelu: return "gelu";
    case UnaryOp::kTanh: return "tanh";
    case UnaryOp::kSigmoid: return "sigmoid";
    case UnaryOp::kExp: return "exp";
    case UnaryOp::kLog: return "log";
    case UnaryOp::kNeg: return "neg";
    case UnaryOp::kSquare: return "square";
    case UnaryOp::kSqrt: return "sqrt";
  }
  return "unary";
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  checks::floating(name, a, "a");
  checks::floating(name, b, "b");
  checks::same_dtype(name, a, b);
  checks::same_device(name, a, b);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  backend_for(a.device()).binary(op, a, b, out);
  if (should_record({&a, &b})) {
    record_op(name, {&a, &b}, {&out},
              [op, a = a.detach(), b = b.detach(), out = out.detach()](
                  const GradContext& context) -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_a;
                Tensor grad_b;
                switch (op) {
                  case BinaryOp::kAdd:
                    if (context.needs_grad(0)) grad_a = sum_to(grad, a.shape());
                    if (context.needs_grad(1)) grad_b = sum_to(grad, b.shape());
                    break;
                  case BinaryOp::kSub:
                    if (context.needs_grad(0)) grad_a = sum_to(grad, a.shape());
                    if (context.needs_grad(1)) grad_b = neg(sum_to(grad, b.shape()));
                    break;
                  case BinaryOp::kMul:
                    if (context.needs_grad(0)) grad_a = sum_to(mul(grad, b), a.shape());
                    if (context.needs_grad(1)) grad_b = sum_to(mul(grad, a), b.shape());
                    break;
                  case BinaryOp::kDiv:
                    // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -out/b.
                    if (context.needs_grad(0)) grad_a = sum_to(div(grad, b), a.shape());
                    if (context.needs_grad(1)) {
                      grad_b = neg(sum_to(div(mul(grad, out), b), b.shape()));
                    }
                    break;
                }
                return {grad_a, grad_b};
              });
  }
  return out;
}

Tensor unary_op(UnaryOp op, const Tensor& x) {
  const char* name = unary_name(op);
  checks::floating(name, x, "x");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).unary(op, x, out);
  if (should_record({&x})) {
    record_op(name, {&x}, {&out},
              [op, x = x.detach(), out = out.detach()](const GradContext& context)
                  -> std::vector<Tensor> {
                Tensor grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
                backend_for(x.device()).unary_backward(op, context.grad(), x, out, grad_x);
                return {grad_x};
              });
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::kAdd, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::kSub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::kMul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::kDiv, a, b); }

Tensor bias_add(const Tensor& x, const Tensor& bias) {
  checks::floating("bias_add", x, "x");
  checks::floating("bias_add", bias, "bias");
  checks::same_dtype("bias_add", x, bias);
  checks::same_device("bias_add", x, bias);
  checks::min_rank("bias_add", x, 1, "x");
  HIVE_REQUIRE(bias.rank() == 1 && bias.size(0) == x.size(-1), "bias_add: bias has shape ",
               bias.shape(), ", expected [", x.size(-1), "] to match x of shape ", x.shape());
  return add(x, bias);
}

Tensor affine(const Tensor& x, float scale_factor, float shift) {
  checks::floating("affine", x, "x");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).affine(x, scale_factor, shift, out);
  if (should_record({&x})) {
    record_op("affine", {&x}, {&out},
              [scale_factor](const GradContext& context) -> std::vector<Tensor> {
                return {scale(context.grad(), scale_factor)};
              });
  }
  return out;
}

Tensor scale(const Tensor& x, float factor) { return affine(x, factor, 0.0f); }
Tensor add_scalar(const Tensor& x, float value) { return affine(x, 1.0f, value); }

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::kNeg, x); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::kRelu, x); }
Tensor gelu(const Tensor& x) { return unary_op(UnaryOp::kGelu, x); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::kTanh, x); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::kSigmoid, x); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::kExp, x); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::kLog, x); }
Tensor square(const Tensor& x) { return unary_op(UnaryOp::kSquare, x); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::kSqrt, x); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  checks::floating("sum_to", x, "x");
  HIVE_REQUIRE(broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(), "sum_to: shape ", shape,
               " does not broadcast to the shape ", x.shape(), " of x");
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_for(x.device()).sum_to(x, out);
  if (should_record({&x})) {
    record_op("sum_to", {&x}, {&out},
              [x_shape = x.shape()](const GradContext& context) -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_x = Tensor::zeros(x_shape, grad.dtype(), grad.device());
                backend_for(grad.device()).binary(BinaryOp::kAdd, grad_x, grad, grad_x);
                return {grad_x};
              });
  }
  return out;
}

void add_(const Tensor& target, const Tensor& source) {
  checks::floating("add_", target, "target");
  checks::same_shape("add_", target, source);
  checks::same_dtype("add_", target, source);
  checks::same_device("add_", target, source);
  backend_for(target.device()).binary(BinaryOp::kAdd, target, source, target);
}

void scale_(const Tensor& x, float factor) {
  checks::floating("scale_", x, "x");
  backend_for(x.device()).affine(x, factor, 0.0f, x);
}

}  // namespace hive
