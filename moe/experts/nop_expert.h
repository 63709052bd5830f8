// The "nop" and "nop_delay" experts: the identity, with no parameters, for tests of the
// serving path; nop_delay first waits a configurable time (on every forward, so also inside
// backward, which recomputes forward), for tests of timeouts and stragglers.
#pragma once

#include <chrono>

#include "moe/experts/expert_module.h"

namespace hive::moe {

// x f32 [*, h] -> a copy of x.
class NopExpert : public ExpertModule {
 public:
  explicit NopExpert(int64_t hidden, std::chrono::nanoseconds delay = {});
  std::vector<Tensor> forward(std::span<const Tensor> inputs) override;

 private:
  std::chrono::nanoseconds delay_;
};

}  // namespace hive::moe
