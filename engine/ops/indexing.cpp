#include "engine/ops/indexing.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

// index_select and index_add need a 1-D index; gather and scatter_add an index shaped like the
// data except along the axis.
void check_flat_index(const char* op, const Tensor& x, const Tensor& index, int axis) {
  checks::index_dtype(op, index, "index");
  checks::same_device(op, x, index);
  checks::rank(op, index, 1, "index");
  checks::indices_in_range(op, index, x.shape()[axis]);
}

void check_spanning_index(const char* op, const Tensor& x, const Tensor& index, int axis) {
  checks::index_dtype(op, index, "index");
  checks::same_device(op, x, index);
  HIVE_REQUIRE(index.rank() == x.rank() && index.shape().with(axis, x.shape()[axis]) == x.shape(),
               op, ": index has shape ", index.shape(), " but must match ", x.shape(),
               " everywhere except along axis ", axis);
  checks::indices_in_range(op, index, x.shape()[axis]);
}

Tensor index_select_unchecked(const Tensor& x, int axis, const Tensor& index) {
  Tensor out = Tensor::empty(x.shape().with(axis, index.numel()), x.dtype(), x.device());
  backend_for(x.device()).index_select(x, AxisLayout::around(x.shape(), axis), index, out);
  return out;
}

Tensor index_add_unchecked(const Tensor& base, int axis, const Tensor& index, const Tensor& src) {
  Tensor out = base.clone();
  backend_for(base.device()).index_add(out, AxisLayout::around(base.shape(), axis), index, src);
  return out;
}

Tensor gather_unchecked(const Tensor& x, int axis, const Tensor& index) {
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  backend_for(x.device()).gather(x, AxisLayout::around(x.shape(), axis), index, out);
  return out;
}

Tensor scatter_add_unchecked(const Tensor& base, int axis, const Tensor& index, const Tensor& src) {
  Tensor out = base.clone();
  backend_for(base.device()).scatter_add(out, AxisLayout::around(base.shape(), axis), index, src);
  return out;
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  checks::floating("embedding", weight, "weight");
  checks::rank("embedding", weight, 2, "weight");
  checks::index_dtype("embedding", ids, "ids");
  checks::same_device("embedding", weight, ids);
  checks::indices_in_range("embedding", ids, weight.size(0));
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  return index_select(weight, 0, ids.reshape(Shape{ids.numel()})).reshape(out_shape);
}

Tensor index_select(const Tensor& x, int axis_argument, const Tensor& index) {
  checks::defined("index_select", x, "x");
  checks::min_rank("index_select", x, 1, "x");
  const int axis = x.shape().normalize_axis(axis_argument, "index_select");
  check_flat_index("index_select", x, index, axis);
  Tensor out = index_select_unchecked(x, axis, index);
  if (should_record({&x})) {
    record_op("index_select", {&x}, {&out},
              [x_shape = x.shape(), axis, index](const GradContext& context)
                  -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                return {index_add_unchecked(Tensor::zeros(x_shape, grad.dtype(), grad.device()),
                                            axis, index, grad)};
              });
  }
  return out;
}

Tensor index_add(const Tensor& base, int axis_argument, const Tensor& index, const Tensor& src) {
  checks::defined("index_add", base, "base");
  checks::min_rank("index_add", base, 1, "base");
  const int axis = base.shape().normalize_axis(axis_argument, "index_add");
  check_flat_index("index_add", base, index, axis);
  checks::same_dtype("index_add", base, src);
  checks::same_device("index_add", base, src);
  HIVE_REQUIRE(src.shape() == base.shape().with(axis, index.numel()), "index_add: src has shape ",
               src.shape(), ", expected ", base.shape().with(axis, index.numel()),
               " (base shape ", base.shape(), " with ", index.numel(), " indices along axis ",
               axis, ")");
  Tensor out = index_add_unchecked(base, axis, index, src);
  if (should_record({&base, &src})) {
    record_op("index_add", {&base, &src}, {&out},
              [axis, index](const GradContext& context) -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_src;
                if (context.needs_grad(1)) grad_src = index_select_unchecked(grad, axis, index);
                return {grad, grad_src};
              });
  }
  return out;
}

Tensor gather(const Tensor& x, int axis_argument, const Tensor& index) {
  checks::defined("gather", x, "x");
  checks::min_rank("gather", x, 1, "x");
  const int axis = x.shape().normalize_axis(axis_argument, "gather");
  check_spanning_index("gather", x, index, axis);
  Tensor out = gather_unchecked(x, axis, index);
  if (should_record({&x})) {
    record_op("gather", {&x}, {&out},
              [x_shape = x.shape(), axis, index](const GradContext& context)
                  -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                return {scatter_add_unchecked(Tensor::zeros(x_shape, grad.dtype(), grad.device()),
                                              axis, index, grad)};
              });
  }
  return out;
}

Tensor scatter_add(const Tensor& base, int axis_argument, const Tensor& index, const Tensor& src) {
  checks::defined("scatter_add", base, "base");
  checks::min_rank("scatter_add", base, 1, "base");
  const int axis = base.shape().normalize_axis(axis_argument, "scatter_add");
  check_spanning_index("scatter_add", base, index, axis);
  checks::same_dtype("scatter_add", base, src);
  checks::same_device("scatter_add", base, src);
  checks::same_shape("scatter_add", index, src);
  Tensor out = scatter_add_unchecked(base, axis, index, src);
  if (should_record({&base, &src})) {
    record_op("scatter_add", {&base, &src}, {&out},
              [axis, index](const GradContext& context) -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_src;
                if (context.needs_grad(1)) grad_src = gather_unchecked(grad, axis, index);
                return {grad, grad_src};
              });
  }
  return out;
}

}  // namespace hive
