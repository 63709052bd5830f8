// Learning-rate schedule: linear warmup from 0 to the peak, then linear decay to a final value.
#pragma once

#include <cstdint>

namespace hive::optim {

class LinearWarmupDecay {
 public:
  // Warmup over [0, warmup_steps), decay over [warmup_steps, total_steps], final_lr after that.
  LinearWarmupDecay(float peak_lr, int64_t warmup_steps, int64_t total_steps, float final_lr = 0.0f);
  // The learning rate to use for update number `step` (0-based).
  float lr_at(int64_t step) const;

 private:
  float peak_lr_;
  int64_t warmup_steps_;
  int64_t total_steps_;
  float final_lr_;
};

}  // namespace hive::optim
