// The answers of a batch's forward calls as differentiable tensors: one autograd node for all
// of the batch's calls, whose backward sends every expert its rows' output gradients at once
// (one backward call per expert that answered forward, none to the others) and waits for them
// as forward did: until every row has backward_k_min answers, plus timeout_after_k_min, never
// past backward_timeout. An expert that fails backward contributes zero input gradients; a row
// left with fewer than backward_k_min answers fails the backward pass, unless zero outputs are
// allowed (then its missing gradients are zeros).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "moe/client/forward_calls.h"

namespace hive::moe {

enum class AllowZeroOutputs : uint8_t { kNo, kYes };

struct BackwardCallPolicy {
  int64_t backward_k_min = 1;
  std::chrono::milliseconds timeout_after_k_min{1000};
  std::chrono::milliseconds backward_timeout{10000};
  AllowZeroOutputs allow_zero_outputs = AllowZeroOutputs::kNo;
  DetectAnomalies detect_anomalies = DetectAnomalies::kNo;
};

struct BackwardCallStats {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> failed_calls{0};
};

// One output per answered call ([rows of the call, ...]), differentiable in `inputs` (the
// layer's input, [n, ...]) when gradients are recorded. `stats` (may be null) is updated by
// the backward pass (held by it).
std::vector<Tensor> remote_expert_outputs(const Tensor& inputs, const ForwardCalls& calls,
                                          const BackwardCallPolicy& policy,
                                          std::shared_ptr<BackwardCallStats> stats);

}  // namespace hive::moe
