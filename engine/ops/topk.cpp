#include "engine/ops/topk.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {

TopK topk(const Tensor& x, int64_t k) {
  checks::floating("topk", x, "x");
  checks::min_rank("topk", x, 1, "x");
  HIVE_REQUIRE(k >= 0 && k <= x.size(-1), "topk: k = ", k, " is outside [0, ", x.size(-1),
               "] for x of shape ", x.shape());
  const Shape out_shape = x.shape().with(x.rank() - 1, k);
  TopK result{Tensor::empty(out_shape, x.dtype(), x.device()),
              Tensor::empty(out_shape, DType::kI64, x.device())};
  backend_for(x.device()).topk(x, k, result.values, result.indices);
  if (should_record({&x})) {
    record_op("topk", {&x}, {&result.values},
              [x_shape = x.shape(), indices = result.indices](const GradContext& context)
                  -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_x = Tensor::zeros(x_shape, grad.dtype(), grad.device());
                backend_for(grad.device())
                    .scatter_add(grad_x, AxisLayout::around(x_shape, x_shape.rank() - 1), indices,
                                 grad);
                return {grad_x};
              });
  }
  return result;
}

}  // namespace hive
