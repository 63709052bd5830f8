#include "engine/optim/optimizer.h"

#include <cmath>

namespace hive::optim {

Optimizer::Optimizer(nn::NamedTensors params, float lr) : params_(std::move(params)) {
  set_lr(lr);
  for (const auto& [name, param] : params_) {
    HIVE_REQUIRE(param.dtype() == DType::kF32, "optimizer: parameter '", name, "' has dtype ",
                 param.dtype(), "; parameters and optimizer state are f32");
    HIVE_REQUIRE(param.requires_grad(), "optimizer: parameter '", name, "' does not require grad");
  }
}

void Optimizer::zero_grad() {
  for (const auto& [name, param] : params_) param.zero_grad();
}

void Optimizer::set_lr(float lr) {
  HIVE_REQUIRE(std::isfinite(lr) && lr >= 0.0f, "optimizer: learning rate ", lr,
               " must be finite and non-negative");
  lr_ = lr;
}

}  // namespace hive::optim
