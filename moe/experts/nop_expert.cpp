#include "moe/experts/nop_expert.h"

#include <thread>

namespace hive::moe {

NopExpert::NopExpert(int64_t hidden, std::chrono::nanoseconds delay)
    : ExpertModule(
          {.inputs = {{DType::kF32, Shape{hidden}}}, .outputs = {{DType::kF32, Shape{hidden}}}}),
      delay_(delay) {
  HIVE_REQUIRE(delay >= std::chrono::nanoseconds::zero(), "nop expert: delay of ", delay.count(),
               " ns must not be negative");
}

std::vector<Tensor> NopExpert::forward(std::span<const Tensor> inputs) {
  // The delay is this expert's whole purpose: it stands in for a slow or overloaded server.
  if (delay_ > std::chrono::nanoseconds::zero()) std::this_thread::sleep_for(delay_);
  // A copy (recorded, so gradients flow back to x) rather than x itself, so the caller's input
  // and the output never alias.
  return {inputs[0].clone()};
}

}  // namespace hive::moe
