#include "engine/ops/normalization.h"

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  constexpr const char* kOp = "layer_norm";
  checks::floating(kOp, x, "x");
  checks::min_rank(kOp, x, 1, "x");
  HIVE_REQUIRE(eps > 0.0f, kOp, ": eps must be positive, got ", eps);
  const int64_t features = x.size(-1);
  for (const auto& [param, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!param->defined()) continue;
    checks::same_dtype(kOp, x, *param);
    checks::same_device(kOp, x, *param);
    HIVE_REQUIRE(param->rank() == 1 && param->size(0) == features, kOp, ": ", name,
                 " has shape ", param->shape(), ", expected [", features, "] for x of shape ",
                 x.shape());
  }
  const int64_t rows = x.numel() / std::max<int64_t>(features, 1);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty(Shape{rows}, DType::kF32, x.device());
  Tensor rstd = Tensor::empty(Shape{rows}, DType::kF32, x.device());
  backend_for(x.device()).layer_norm(x, weight, bias, eps, out, mean, rstd);
  if (should_record({&x, &weight, &bias})) {
    record_op(kOp, {&x, &weight, &bias}, {&out},
              [x = x.detach(), weight = weight.defined() ? weight.detach() : Tensor(), mean,
               rstd](const GradContext& context) -> std::vector<Tensor> {
                Tensor grad_x;
                Tensor grad_weight;
                Tensor grad_bias;
                if (context.needs_grad(0)) grad_x = Tensor::empty(x.shape(), x.dtype(), x.device());
                if (context.needs_grad(1)) {
                  grad_weight = Tensor::empty(weight.shape(), x.dtype(), x.device());
                }
                if (context.needs_grad(2)) {
                  grad_bias = Tensor::empty(Shape{x.size(-1)}, x.dtype(), x.device());
                }
                backend_for(x.device()).layer_norm_backward(context.grad(), x, weight, mean, rstd,
                                                            grad_x, grad_weight, grad_bias);
                return {grad_x, grad_weight, grad_bias};
              });
  }
  return out;
}

}  // namespace hive
