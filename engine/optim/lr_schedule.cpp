#include "engine/optim/lr_schedule.h"

#include "engine/core/error.h"

namespace hive::optim {

LinearWarmupDecay::LinearWarmupDecay(float peak_lr, int64_t warmup_steps, int64_t total_steps,
                                     float final_lr)
    : peak_lr_(peak_lr), warmup_steps_(warmup_steps), total_steps_(total_steps), final_lr_(final_lr) {
  HIVE_REQUIRE(peak_lr >= 0.0f && final_lr >= 0.0f, "LinearWarmupDecay: learning rates (peak ",
               peak_lr, ", final ", final_lr, ") must be non-negative");
  HIVE_REQUIRE(warmup_steps >= 0 && warmup_steps <= total_steps, "LinearWarmupDecay: warmup steps ",
               warmup_steps, " must be in [0, total steps ", total_steps, "]");
}

float LinearWarmupDecay::lr_at(int64_t step) const {
  if (step < warmup_steps_) {
    return peak_lr_ * static_cast<float>(step + 1) / static_cast<float>(warmup_steps_);
  }
  if (step >= total_steps_) return final_lr_;
  const int64_t decay_steps = total_steps_ - warmup_steps_;
  const float progress = static_cast<float>(step - warmup_steps_) / static_cast<float>(decay_steps);
  return peak_lr_ + (final_lr_ - peak_lr_) * progress;
}

}  // namespace hive::optim
