#include "engine/ops/dropout.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {

Tensor dropout(const Tensor& x, float p, uint64_t seed) {
  checks::floating("dropout", x, "x");
  HIVE_REQUIRE(p >= 0.0f && p < 1.0f, "dropout: probability ", p, " is outside [0, 1)");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).dropout(x, p, seed, out);
  if (should_record({&x})) {
    record_op("dropout", {&x}, {&out}, [p, seed](const GradContext& context) -> std::vector<Tensor> {
      const Tensor& grad = context.grad();
      Tensor grad_x = Tensor::empty(grad.shape(), grad.dtype(), grad.device());
      backend_for(grad.device()).dropout(grad, p, seed, grad_x);
      return {grad_x};
    });
  }
  return out;
}

}  // namespace hive
