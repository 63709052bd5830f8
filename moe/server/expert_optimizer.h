// ExpertOptimizer: how a server trains one expert after each backward batch, as hivemind's
// ExpertBackend does: clip the gradients' global norm (optional), set the learning rate from a
// linear warmup (and optional linear decay) schedule, take one step of SGD or Adam (or none),
// and drop the gradients.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/optimizer.h"

namespace hive::moe {

// kNone computes gradients (for the caller's inputs) but never changes the expert.
enum class OptimizerType : uint8_t { kNone, kSgd, kAdam };

struct OptimizerConfig {
  OptimizerType type = OptimizerType::kAdam;
  float lr = 1e-3f;  // the peak learning rate
  // Absent: no clipping. Set: the gradients' global norm is clipped to this before each step.
  std::optional<float> max_grad_norm = std::nullopt;
  // Update n (from 0) of the first warmup_steps uses lr * (n + 1) / warmup_steps.
  int64_t warmup_steps = 0;
  // Absent: lr after the warmup, for ever. Set: lr decays linearly to 0 at update total_steps
  // (hivemind's "linear" schedule) and stays 0. Needs warmup_steps <= total_steps.
  std::optional<int64_t> total_steps = std::nullopt;
};

class ExpertOptimizer {
 public:
  // Throws hive::Error naming the setting when the config is unusable.
  ExpertOptimizer(nn::NamedTensors params, const OptimizerConfig& config);

  // One update from the parameters' current gradients (parameters without one are skipped),
  // then drops every gradient so the next backward batch starts from zero.
  void step();

  int64_t steps_taken() const { return steps_taken_; }
  // The learning rate the next step() will use.
  float next_lr() const { return schedule_.lr_at(steps_taken_); }

  // For checkpoints: the optimizer's state as optim::Optimizer::state() names it (empty for
  // kNone), and its inverse, which also restores the update count so the schedule resumes
  // where it stopped. restore throws hive::Error naming the offending tensor or value, having
  // changed nothing, when `state` is not this optimizer's or `steps_taken` is negative.
  nn::NamedTensors state() const;
  void restore(const std::map<std::string, Tensor>& state, int64_t steps_taken);

 private:
  std::vector<Tensor> params_;
  std::optional<float> max_grad_norm_;
  optim::LinearWarmupDecay schedule_;
  std::unique_ptr<optim::Optimizer> optimizer_;  // null for OptimizerType::kNone
  int64_t steps_taken_ = 0;
};

}  // namespace hive::moe
