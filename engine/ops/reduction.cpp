#include "engine/ops/reduction.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"
#include "engine/ops/elementwise.h"

namespace hive {
namespace {

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kMean: return "mean";
    case ReduceOp::kMax: return "max";
  }
  return "reduce";
}

struct Reduced {
  Tensor values;
  Tensor argmax;  // only for kMax
};

Shape reduced_shape(const Shape& shape, int axis, KeepDim keep) {
  return keep == KeepDim::kYes ? shape.with(axis, 1) : shape.without(axis);
}

Reduced reduce_along(ReduceOp op, const Tensor& x, int axis_argument, KeepDim keep) {
  const char* name = reduce_name(op);
  checks::floating(name, x, "x");
  checks::min_rank(name, x, 1, "x");
  const int axis = x.shape().normalize_axis(axis_argument, name);
  HIVE_REQUIRE(op != ReduceOp::kMax || x.shape()[axis] > 0, name, ": cannot take the maximum "
               "over axis ", axis, " of length 0 (shape ", x.shape(), ")");
  const AxisLayout layout = AxisLayout::around(x.shape(), axis);
  Reduced result;
  result.values = Tensor::empty(reduced_shape(x.shape(), axis, keep), x.dtype(), x.device());
  if (op == ReduceOp::kMax) {
    result.argmax = Tensor::empty(result.values.shape(), DType::kI64, x.device());
  }
  backend_for(x.device()).reduce(op, x, layout, result.values, result.argmax);

  if (should_record({&x})) {
    record_op(name, {&x}, {&result.values},
              [op, layout, x_shape = x.shape(), axis, argmax = result.argmax](
                  const GradContext& context) -> std::vector<Tensor> {
                // Broadcast the gradient back along the reduced axis.
                const Tensor grad = context.grad().reshape(x_shape.with(axis, 1));
                Tensor grad_x = Tensor::zeros(x_shape, grad.dtype(), grad.device());
                Backend& backend = backend_for(grad.device());
                if (op == ReduceOp::kMax) {
                  backend.scatter_add(grad_x, layout, argmax.reshape(grad.shape()), grad);
                } else {
                  backend.binary(BinaryOp::kAdd, grad_x, grad, grad_x);
                  if (op == ReduceOp::kMean && layout.axis > 0) {
                    backend.affine(grad_x, 1.0f / static_cast<float>(layout.axis), 0.0f, grad_x);
                  }
                }
                return {grad_x};
              });
  }
  return result;
}

}  // namespace

Tensor sum(const Tensor& x, int axis, KeepDim keep) {
  return reduce_along(ReduceOp::kSum, x, axis, keep).values;
}

Tensor mean(const Tensor& x, int axis, KeepDim keep) {
  return reduce_along(ReduceOp::kMean, x, axis, keep).values;
}

Tensor max(const Tensor& x, int axis, KeepDim keep) {
  return reduce_along(ReduceOp::kMax, x, axis, keep).values;
}

Tensor argmax(const Tensor& x, int axis, KeepDim keep) {
  const Tensor detached = x.detach();
  return reduce_along(ReduceOp::kMax, detached, axis, keep).argmax;
}

Tensor sum(const Tensor& x) {
  checks::defined("sum", x, "x");
  return sum(x.reshape(Shape{x.numel()}), 0);
}

Tensor mean(const Tensor& x) {
  checks::defined("mean", x, "x");
  return mean(x.reshape(Shape{x.numel()}), 0);
}

}  // namespace hive
