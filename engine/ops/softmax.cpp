#include "engine/ops/softmax.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

Tensor softmax_op(SoftmaxKind kind, const Tensor& x, int axis_argument) {
  const char* name = kind == SoftmaxKind::kSoftmax ? "softmax" : "log_softmax";
  checks::floating(name, x, "x");
  checks::min_rank(name, x, 1, "x");
  const int axis = x.shape().normalize_axis(axis_argument, name);
  const AxisLayout layout = AxisLayout::around(x.shape(), axis);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).softmax(kind, x, layout, out);
  if (should_record({&x})) {
    record_op(name, {&x}, {&out},
              [kind, layout, out = out.detach()](const GradContext& context)
                  -> std::vector<Tensor> {
                Tensor grad_x = Tensor::empty(out.shape(), out.dtype(), out.device());
                backend_for(out.device()).softmax_backward(kind, out, context.grad(), layout,
                                                           grad_x);
                return {grad_x};
              });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_op(SoftmaxKind::kSoftmax, x, axis); }

Tensor log_softmax(const Tensor& x, int axis) {
  return softmax_op(SoftmaxKind::kLogSoftmax, x, axis);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  constexpr const char* kOp = "cross_entropy";
  checks::floating(kOp, logits, "logits");
  checks::index_dtype(kOp, labels, "labels");
  checks::rank(kOp, logits, 2, "logits");
  checks::rank(kOp, labels, 1, "labels");
  checks::same_device(kOp, logits, labels);
  HIVE_REQUIRE(labels.size(0) == logits.size(0), kOp, ": ", labels.size(0), " labels for ",
               logits.size(0), " rows of logits (shapes ", labels.shape(), " and ", logits.shape(),
               ")");
  HIVE_REQUIRE(logits.size(0) > 0, kOp, ": no rows (logits shape ", logits.shape(), ")");
  checks::indices_in_range(kOp, labels, logits.size(1));

  Tensor loss = Tensor::empty(Shape{}, DType::kF32, logits.device());
  Tensor log_sum_exp = Tensor::empty(Shape{logits.size(0)}, DType::kF32, logits.device());
  backend_for(logits.device()).cross_entropy(logits, labels, loss, log_sum_exp);
  if (should_record({&logits})) {
    record_op(kOp, {&logits}, {&loss},
              [logits = logits.detach(), labels, log_sum_exp](const GradContext& context)
                  -> std::vector<Tensor> {
                Tensor grad_logits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
                backend_for(logits.device())
                    .cross_entropy_backward(logits, labels, log_sum_exp,
                                            context.grad().to(DType::kF32), grad_logits);
                return {grad_logits};
              });
  }
  return loss;
}

}  // namespace hive
