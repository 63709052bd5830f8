#include "engine/optim/clip_grad.h"

#include <cmath>
#include <map>
#include <vector>

#include "engine/core/backend.h"
#include "engine/ops/elementwise.h"

namespace hive::optim {

float clip_grad_norm(std::span<const Tensor> params, float max_norm) {
  HIVE_REQUIRE(max_norm > 0.0f, "clip_grad_norm: max_norm ", max_norm, " must be positive");
  std::vector<Tensor> grads;
  for (const Tensor& param : params) {
    if (Tensor grad = param.grad(); grad.defined()) grads.push_back(grad);
  }
  if (grads.empty()) return 0.0f;
  // One sum-of-squares launch per device, then a host-side total.
  std::map<int, std::vector<Tensor>> by_device;
  for (const Tensor& grad : grads) {
    by_device[grad.device().is_cpu() ? -1 : grad.device().index].push_back(grad);
  }
  double total = 0.0;
  for (const auto& [key, group] : by_device) {
    const Device device = group.front().device();
    const Tensor squares = Tensor::empty(Shape{static_cast<int64_t>(group.size())}, DType::kF32, device);
    backend_for(device).sum_of_squares(group, squares);
    for (float value : squares.to_vector<float>()) total += value;
  }
  const auto norm = static_cast<float>(std::sqrt(total));
  if (!std::isfinite(norm)) return norm;
  const float factor = max_norm / (norm + 1e-6f);
  if (factor < 1.0f) {
    for (const Tensor& grad : grads) scale_(grad, factor);
  }
  return norm;
}

}  // namespace hive::optim
