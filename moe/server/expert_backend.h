// ExpertBackend: one expert as a server serves it (hivemind's ModuleBackend). It checks every
// call against the expert's schema and batch-size limit, runs forward without recording
// gradients, and runs backward by recomputing forward with gradients (the server keeps no
// activations between the two calls, which may come in any order or never), backpropagating
// the caller's output gradients, and taking one optimizer step per backward batch.
//
// Not thread-safe: a server calls each backend from its one runtime thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/core/status.h"
#include "moe/experts/expert_module.h"
#include "moe/server/expert_optimizer.h"
#include "moe/uid/expert_uid.h"

namespace hive::moe {

struct ExpertBackendConfig {
  int64_t max_batch_size = 4096;  // rows per call (hivemind's default)
  OptimizerConfig optimizer = {};
};

class ExpertBackend {
 public:
  ExpertBackend(ExpertUid uid, std::unique_ptr<ExpertModule> module, ExpertBackendConfig config);

  const ExpertUid& uid() const { return uid_; }
  const ExpertSchema& schema() const { return module_->schema(); }
  int64_t max_batch_size() const { return max_batch_size_; }
  ExpertModule& module() { return *module_; }
  const ExpertOptimizer& optimizer() const { return optimizer_; }
  ExpertOptimizer& optimizer() { return optimizer_; }  // checkpoints restore it

  // The expert's outputs for `inputs` (schema().inputs, 1 to max_batch_size() rows).
  Result<std::vector<Tensor>> forward(std::span<const Tensor> inputs);

  // The gradients of the caller's loss with respect to `inputs`, given its gradients with
  // respect to the outputs (schema().outputs, as many rows as the inputs); one per input, zeros
  // for inputs the outputs do not depend on differentiably (masks, integer inputs). Then one
  // optimizer step on the expert's parameters.
  Result<std::vector<Tensor>> backward(std::span<const Tensor> inputs,
                                       std::span<const Tensor> grad_outputs);

  // Several experts' calls at once: backends[i] gets inputs[i] (and for backward
  // grad_outputs[i]), with the checks, errors and optimizer step of forward() and backward(),
  // but one nn::forward_grouped over all of them. Every backend's module must have a
  // grouped_block() of the same hidden size (the runtime groups only such). One result per
  // backend: a backend whose call fails its checks gets its own error and the others still run.
  static std::vector<Result<std::vector<Tensor>>> forward_grouped(
      std::span<ExpertBackend* const> backends, std::span<const std::vector<Tensor>> inputs);
  static std::vector<Result<std::vector<Tensor>>> backward_grouped(
      std::span<ExpertBackend* const> backends, std::span<const std::vector<Tensor>> inputs,
      std::span<const std::vector<Tensor>> grad_outputs);

 private:
  // forward_grouped (no output gradients) or backward_grouped.
  static std::vector<Result<std::vector<Tensor>>> run_grouped(
      std::span<ExpertBackend* const> backends, std::span<const std::vector<Tensor>> inputs,
      std::span<const std::vector<Tensor>> grad_outputs);
  // The rows of a call whose inputs match the schema and the batch-size limit.
  Result<int64_t> check_inputs(std::span<const Tensor> inputs) const;
  // An error unless the expert's own outputs match its schema (a user-defined type may not).
  Status check_outputs(std::span<const Tensor> outputs, int64_t rows) const;

  ExpertUid uid_;
  std::unique_ptr<ExpertModule> module_;
  int64_t max_batch_size_;
  ExpertOptimizer optimizer_;
  std::string context_;  // "expert ffn.3.17", how every error of this backend starts
};

}  // namespace hive::moe
