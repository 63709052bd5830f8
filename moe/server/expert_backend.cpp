#include "moe/server/expert_backend.h"

#include "engine/autograd/grad_mode.h"
#include "engine/nn/ffn_expert.h"
#include "engine/ops/shape_ops.h"
#include "moe/experts/schema_check.h"

namespace hive::moe {
namespace {

// Backward records its recomputed forward whatever grad mode the calling thread has set, and
// gives the thread its mode back afterwards.
class GradEnabledScope {
 public:
  GradEnabledScope() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~GradEnabledScope() { GradMode::set_enabled(previous_); }
  GradEnabledScope(const GradEnabledScope&) = delete;
  GradEnabledScope& operator=(const GradEnabledScope&) = delete;

 private:
  bool previous_;
};

}  // namespace

ExpertBackend::ExpertBackend(ExpertUid uid, std::unique_ptr<ExpertModule> module,
                             ExpertBackendConfig config)
    : uid_(std::move(uid)),
      module_(std::move(module)),
      max_batch_size_(config.max_batch_size),
      optimizer_(module_->named_parameters(), config.optimizer),
      context_(str_cat("expert ", uid_)) {
  HIVE_REQUIRE(max_batch_size_ > 0, context_, ": max batch size ", max_batch_size_,
               " must be positive");
}

Result<int64_t> ExpertBackend::check_inputs(std::span<const Tensor> inputs) const {
  Result<int64_t> rows = check_against_schema(context_, "input", schema().inputs, inputs);
  if (!rows.is_ok()) return rows;
  if (rows.value() == 0) return Status::error(str_cat(context_, ": a call needs at least one row"));
  if (rows.value() > max_batch_size_) {
    return Status::error(str_cat(context_, ": batch of ", rows.value(),
                                 " rows exceeds the limit of ", max_batch_size_));
  }
  return rows;
}

Status ExpertBackend::check_outputs(std::span<const Tensor> outputs, int64_t rows) const {
  Result<int64_t> checked = check_against_schema(str_cat(context_, " broke its own schema"),
                                                 "output", schema().outputs, outputs, rows);
  return checked.is_ok() ? Status::ok() : checked.status();
}

Result<std::vector<Tensor>> ExpertBackend::forward(std::span<const Tensor> inputs) {
  const Result<int64_t> rows = check_inputs(inputs);
  if (!rows.is_ok()) return rows.status();
  NoGradGuard no_grad;
  // Schema-checked inputs should not make an engine op throw; if one does anyway (a
  // user-defined type's own checks), the call fails and the server keeps serving.
  try {
    std::vector<Tensor> outputs = module_->forward(inputs);
    if (Status status = check_outputs(outputs, rows.value()); !status.is_ok()) return status;
    return outputs;
  } catch (const Error& error) {
    return Status::error(str_cat(context_, ": forward failed: ", error.what()));
  }
}

Result<std::vector<Tensor>> ExpertBackend::backward(std::span<const Tensor> inputs,
                                                    std::span<const Tensor> grad_outputs) {
  const Result<int64_t> rows = check_inputs(inputs);
  if (!rows.is_ok()) return rows.status();
  if (Result<int64_t> checked = check_against_schema(context_, "output gradient", schema().outputs,
                                                     grad_outputs, rows.value());
      !checked.is_ok()) {
    return checked.status();
  }
  GradEnabledScope grad_enabled;
  try {
    // Fresh leaves: the caller's tensors never get a gradient or a graph attached.
    std::vector<Tensor> leaves;
    leaves.reserve(inputs.size());
    for (const Tensor& input : inputs) {
      leaves.push_back(input.detach());
      if (is_floating(input.dtype())) leaves.back().set_requires_grad(RequiresGrad::kYes);
    }
    const std::vector<Tensor> outputs = module_->forward(leaves);
    if (Status status = check_outputs(outputs, rows.value()); !status.is_ok()) return status;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].requires_grad()) continue;  // a constant output: nothing flows back
      // Every output but the last keeps the shared graph for the ones after it.
      const RetainGraph retain = i + 1 < outputs.size() ? RetainGraph::kYes : RetainGraph::kNo;
      outputs[i].backward(grad_outputs[i], retain);
    }
    std::vector<Tensor> grad_inputs;
    grad_inputs.reserve(leaves.size());
    for (const Tensor& leaf : leaves) {
      const Tensor grad = leaf.requires_grad() ? leaf.grad() : Tensor();
      grad_inputs.push_back(
          grad.defined() ? grad : Tensor::zeros(leaf.shape(), leaf.dtype(), leaf.device()));
    }
    optimizer_.step();
    return grad_inputs;
  } catch (const Error& error) {
    module_->zero_grad();  // a half-finished backward must not leak gradients into the next step
    return Status::error(str_cat(context_, ": backward failed: ", error.what()));
  }
}

namespace {

// The calls of a grouped run that passed their checks: which backends, their blocks, rows and
// inputs (the one input of a grouped block), in the order they run.
struct GroupedCalls {
  std::vector<size_t> members;
  std::vector<const nn::FeedForwardExpert*> blocks;
  std::vector<int64_t> rows;
  std::vector<Tensor> inputs;
  std::vector<Tensor> grad_outputs;  // backward only
};

Tensor joined(const std::vector<Tensor>& parts) {
  return parts.size() == 1 ? parts.front() : concat(parts, 0);
}

// Cuts `joined_rows` back into the members' rows, as each member's one result.
void hand_out(const GroupedCalls& calls, const Tensor& joined_rows,
              std::vector<Result<std::vector<Tensor>>>& results) {
  int64_t begin = 0;
  for (size_t i = 0; i < calls.members.size(); ++i) {
    results[calls.members[i]] = std::vector<Tensor>{joined_rows.rows(begin, begin + calls.rows[i])};
    begin += calls.rows[i];
  }
}

}  // namespace

std::vector<Result<std::vector<Tensor>>> ExpertBackend::forward_grouped(
    std::span<ExpertBackend* const> backends, std::span<const std::vector<Tensor>> inputs) {
  return run_grouped(backends, inputs, {});
}

std::vector<Result<std::vector<Tensor>>> ExpertBackend::backward_grouped(
    std::span<ExpertBackend* const> backends, std::span<const std::vector<Tensor>> inputs,
    std::span<const std::vector<Tensor>> grad_outputs) {
  HIVE_CHECK(grad_outputs.size() == backends.size(), "backward_grouped: ", grad_outputs.size(),
             " output gradients for ", backends.size(), " experts");
  return run_grouped(backends, inputs, grad_outputs);
}

std::vector<Result<std::vector<Tensor>>> ExpertBackend::run_grouped(
    std::span<ExpertBackend* const> backends, std::span<const std::vector<Tensor>> inputs,
    std::span<const std::vector<Tensor>> grad_outputs) {
  const bool backward = !grad_outputs.empty();
  std::vector<Result<std::vector<Tensor>>> results;
  results.reserve(backends.size());
  GroupedCalls calls;
  for (size_t i = 0; i < backends.size(); ++i) {
    ExpertBackend& backend = *backends[i];
    Result<int64_t> rows = backend.check_inputs(inputs[i]);
    if (rows.is_ok() && backward) {
      rows = check_against_schema(backend.context_, "output gradient", backend.schema().outputs,
                                  grad_outputs[i], rows.value());
    }
    if (!rows.is_ok()) {
      results.push_back(rows.status());
      continue;
    }
    const nn::FeedForwardExpert* block = backend.module_->grouped_block();
    HIVE_CHECK(block != nullptr, backend.context_, " was grouped but cannot run grouped");
    results.push_back(Status::error(str_cat(backend.context_, ": not run")));
    calls.members.push_back(i);
    calls.blocks.push_back(block);
    calls.rows.push_back(rows.value());
    calls.inputs.push_back(inputs[i][0].detach());
    if (backward) calls.grad_outputs.push_back(grad_outputs[i][0]);
  }
  if (calls.members.empty()) return results;

  const char* what = backward ? "grouped backward" : "grouped forward";
  try {
    if (!backward) {
      NoGradGuard no_grad;
      hand_out(calls, nn::forward_grouped(calls.blocks, joined(calls.inputs), calls.rows), results);
      return results;
    }
    GradEnabledScope grad_enabled;
    // One leaf for every call's rows: the callers' tensors never get a gradient or a graph.
    const Tensor x = joined(calls.inputs).detach();
    x.set_requires_grad(RequiresGrad::kYes);
    nn::forward_grouped(calls.blocks, x, calls.rows).backward(joined(calls.grad_outputs));
    hand_out(calls, x.grad(), results);
    for (size_t member : calls.members) backends[member]->optimizer_.step();
  } catch (const Error& error) {
    for (size_t member : calls.members) {
      ExpertBackend& backend = *backends[member];
      // A half-finished backward must not leak gradients into the next step.
      if (backward) backend.module_->zero_grad();
      results[member] =
          Status::error(str_cat(backend.context_, ": ", what, " failed: ", error.what()));
    }
  }
  return results;
}

}  // namespace hive::moe
