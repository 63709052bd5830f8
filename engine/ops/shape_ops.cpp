#include "engine/ops/shape_ops.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {

Tensor concat(std::span<const Tensor> tensors, int axis_argument) {
  HIVE_REQUIRE(!tensors.empty(), "concat: no tensors to join");
  const Tensor& first = tensors[0];
  checks::defined("concat", first, "tensors[0]");
  checks::min_rank("concat", first, 1, "tensors[0]");
  const int axis = first.shape().normalize_axis(axis_argument, "concat");
  int64_t total = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    checks::defined("concat", t, "an input");
    checks::same_dtype("concat", first, t);
    checks::same_device("concat", first, t);
    HIVE_REQUIRE(t.rank() == first.rank() &&
                     t.shape().with(axis, first.shape()[axis]) == first.shape(),
                 "concat: tensor ", i, " has shape ", t.shape(), ", which differs from ",
                 first.shape(), " outside axis ", axis);
    sizes.push_back(t.shape()[axis]);
    total += t.shape()[axis];
  }
  Tensor out = Tensor::empty(first.shape().with(axis, total), first.dtype(), first.device());
  backend_for(out.device()).concat(tensors, axis, out);
  if (should_record(tensors)) {
    record_op("concat", tensors, std::span<const Tensor>(&out, 1),
              [axis, sizes](const GradContext& context) -> std::vector<Tensor> {
                return split(context.grad(), axis, sizes);
              });
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int axis_argument, std::span<const int64_t> sizes) {
  checks::defined("split", x, "x");
  checks::min_rank("split", x, 1, "x");
  const int axis = x.shape().normalize_axis(axis_argument, "split");
  int64_t total = 0;
  for (int64_t size : sizes) {
    HIVE_REQUIRE(size >= 0, "split: negative piece size ", size);
    total += size;
  }
  HIVE_REQUIRE(total == x.shape()[axis], "split: piece sizes add up to ", total, " but axis ",
               axis, " of shape ", x.shape(), " has ", x.shape()[axis]);
  std::vector<Tensor> outputs;
  outputs.reserve(sizes.size());
  for (int64_t size : sizes) {
    outputs.push_back(Tensor::empty(x.shape().with(axis, size), x.dtype(), x.device()));
  }
  backend_for(x.device()).split(x, axis, outputs);
  if (should_record({&x})) {
    record_op("split", std::span<const Tensor>(&x, 1), outputs,
              [axis, pieces = outputs.size(), dtype = x.dtype(), device = x.device(),
               shapes = [&] {
                 std::vector<Shape> result;
                 for (const Tensor& output : outputs) result.push_back(output.shape());
                 return result;
               }()](const GradContext& context) -> std::vector<Tensor> {
                // Outputs that got no gradient contribute zeros.
                std::vector<Tensor> grads;
                grads.reserve(pieces);
                for (size_t i = 0; i < pieces; ++i) {
                  const Tensor& grad = context.grad_outputs[i];
                  grads.push_back(grad.defined() ? grad : Tensor::zeros(shapes[i], dtype, device));
                }
                return {concat(grads, axis)};
              });
  }
  return outputs;
}

}  // namespace hive
