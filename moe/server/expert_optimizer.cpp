#include "moe/server/expert_optimizer.h"

#include <cmath>

#include "engine/optim/adam.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/sgd.h"

namespace hive::moe {
namespace {

optim::LinearWarmupDecay make_schedule(const OptimizerConfig& config) {
  HIVE_REQUIRE(std::isfinite(config.lr) && config.lr >= 0.0f, "expert optimizer: learning rate ",
               config.lr, " must be finite and non-negative");
  HIVE_REQUIRE(config.warmup_steps >= 0, "expert optimizer: warmup steps ", config.warmup_steps,
               " must not be negative");
  if (config.total_steps) {
    HIVE_REQUIRE(*config.total_steps >= config.warmup_steps, "expert optimizer: total steps ",
                 *config.total_steps, " must be at least the warmup steps ", config.warmup_steps);
    return optim::LinearWarmupDecay(config.lr, config.warmup_steps, *config.total_steps, 0.0f);
  }
  // Decay over no steps to the peak itself: constant once the warmup is over.
  return optim::LinearWarmupDecay(config.lr, config.warmup_steps, config.warmup_steps, config.lr);
}

std::unique_ptr<optim::Optimizer> make_optimizer(nn::NamedTensors params,
                                                 const OptimizerConfig& config) {
  switch (config.type) {
    case OptimizerType::kNone: return nullptr;
    case OptimizerType::kSgd:
      return std::make_unique<optim::Sgd>(std::move(params), optim::SgdOptions{.lr = config.lr});
    case OptimizerType::kAdam:
      return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions{.lr = config.lr});
  }
  HIVE_CHECK(false, "unknown optimizer type ", static_cast<int>(config.type));
}

}  // namespace

ExpertOptimizer::ExpertOptimizer(nn::NamedTensors params, const OptimizerConfig& config)
    : max_grad_norm_(config.max_grad_norm), schedule_(make_schedule(config)) {
  HIVE_REQUIRE(!max_grad_norm_ || (std::isfinite(*max_grad_norm_) && *max_grad_norm_ > 0.0f),
               "expert optimizer: max gradient norm ", max_grad_norm_.value_or(0.0f),
               " must be finite and positive");
  for (const auto& [name, param] : params) params_.push_back(param);
  optimizer_ = make_optimizer(std::move(params), config);
}

void ExpertOptimizer::step() {
  if (optimizer_ != nullptr) {
    if (max_grad_norm_) optim::clip_grad_norm(params_, *max_grad_norm_);
    optimizer_->set_lr(schedule_.lr_at(steps_taken_));
    optimizer_->step();
  }
  for (const Tensor& param : params_) param.zero_grad();
  ++steps_taken_;
}

nn::NamedTensors ExpertOptimizer::state() const {
  return optimizer_ != nullptr ? optimizer_->state() : nn::NamedTensors{};
}

void ExpertOptimizer::restore(const std::map<std::string, Tensor>& state, int64_t steps_taken) {
  HIVE_REQUIRE(steps_taken >= 0, "expert optimizer: steps taken ", steps_taken,
               " must not be negative");
  if (optimizer_ != nullptr) {
    optimizer_->load_state(state);
  } else {
    HIVE_REQUIRE(state.empty(), "expert optimizer: state '", state.begin()->first,
                 "' given to an expert that takes no optimizer steps");
  }
  steps_taken_ = steps_taken;
}

}  // namespace hive::moe
