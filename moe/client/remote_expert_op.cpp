#include "moe/client/remote_expert_op.h"

#include <algorithm>
#include <optional>
#include <string>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/record.h"
#include "engine/ops.h"
#include "moe/client/completion_queue.h"

namespace hive::moe {
namespace {

using Clock = std::chrono::steady_clock;

// What backward needs of one answered call.
struct BackwardCall {
  std::shared_ptr<RemoteExpert> expert;
  std::vector<int64_t> rows;
  Tensor inputs;  // the rows it was sent, without history, in host memory
};

// The gradients of each call's inputs, on `device` (the layer input's).
std::vector<Tensor> run_backward_calls(const std::vector<BackwardCall>& calls, int64_t batch_rows,
                                       Device device, const GradContext& context,
                                       const BackwardCallPolicy& policy,
                                       BackwardCallStats& stats) {
  const Clock::time_point deadline = Clock::now() + policy.backward_timeout;
  auto queue = std::make_shared<CompletionQueue<CallCompletion>>();
  std::vector<int64_t> covering(static_cast<size_t>(batch_rows), 0);
  std::vector<int64_t> answered(static_cast<size_t>(batch_rows), 0);
  std::vector<int64_t> pending(static_cast<size_t>(batch_rows), 0);
  std::vector<Tensor> grads(calls.size());
  int64_t in_flight = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    // No gradient reached this expert's output (its weights were zero): nothing to send.
    if (!context.grad_outputs[i].defined()) continue;
    // Sent from host memory, as the forward rows (see remote_expert.h).
    const Tensor grad_output = context.grad_outputs[i].to(Device::cpu());
    for (int64_t row : calls[i].rows) {
      ++covering[static_cast<size_t>(row)];
      ++pending[static_cast<size_t>(row)];
    }
    ++in_flight;
    ++stats.calls;
    calls[i].expert->backward(std::span<const Tensor>(&calls[i].inputs, 1),
                              std::span<const Tensor>(&grad_output, 1), remaining_until(deadline),
                              [queue, i](ExpertReply reply) {
                                queue->push(CallCompletion{i, std::move(reply)});
                              });
  }
  const auto needed = [&](size_t row) {
    return std::min(policy.backward_k_min, covering[row]);
  };
  const auto every_row_has_k_min = [&] {
    for (size_t row = 0; row < covering.size(); ++row) {
      if (answered[row] < needed(row) && pending[row] > 0) return false;
    }
    return true;
  };

  std::vector<std::string> failures;
  std::optional<Clock::time_point> stragglers_until;
  while (in_flight > 0) {
    if (!stragglers_until && every_row_has_k_min()) {
      stragglers_until = std::min(deadline, Clock::now() + policy.timeout_after_k_min);
    }
    std::optional<CallCompletion> completion = queue->pop_until(stragglers_until.value_or(deadline));
    if (!completion) break;
    --in_flight;
    const BackwardCall& call = calls[completion->call];
    for (int64_t row : call.rows) --pending[static_cast<size_t>(row)];
    std::string failure;
    if (!completion->reply.is_ok()) {
      failure = completion->reply.status().message();
    } else if (policy.detect_anomalies == DetectAnomalies::kYes &&
               !all_finite(completion->reply.value()[0])) {
      failure = hive::str_cat("expert ", call.expert->uid(), " returned NaN or Inf gradients");
    }
    if (!failure.empty()) {
      ++stats.failed_calls;
      failures.push_back(std::move(failure));
      continue;
    }
    grads[completion->call] = std::move(completion->reply).value()[0].to(device);
    for (int64_t row : call.rows) ++answered[static_cast<size_t>(row)];
  }
  stats.failed_calls += static_cast<uint64_t>(in_flight);  // the ones given up on

  if (policy.allow_zero_outputs == AllowZeroOutputs::kNo) {
    for (size_t row = 0; row < covering.size(); ++row) {
      if (answered[row] >= needed(row)) continue;
      throw Error(hive::str_cat(
          "DMoE backward: row ", row, " got gradients from ", answered[row], " of the ",
          covering[row], " experts that answered its forward, backward_k_min is ",
          policy.backward_k_min, failures.empty() ? "" : "; first failure: ",
          failures.empty() ? std::string() : failures.front()));
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!grads[i].defined()) grads[i] = Tensor::zeros(calls[i].inputs.shape(), DType::kF32, device);
  }
  return grads;
}

}  // namespace

std::vector<Tensor> remote_expert_outputs(const Tensor& inputs, const ForwardCalls& calls,
                                          const BackwardCallPolicy& policy,
                                          std::shared_ptr<BackwardCallStats> stats) {
  std::vector<Tensor> outputs;
  std::vector<Tensor> call_inputs;
  outputs.reserve(calls.answered.size());
  call_inputs.reserve(calls.answered.size());
  for (const AnsweredCall& call : calls.answered) {
    outputs.push_back(call.output.detach().to(inputs.device()));
    call_inputs.push_back(index_select(inputs, 0, call.row_index.to(inputs.device())));
  }
  if (!GradMode::is_enabled() || calls.answered.empty()) return outputs;
  // The experts train on their backward calls even when the layer's input needs no gradient
  // (raw data, a frozen stem): a leaf that requires grad keeps the node in the graph then, as
  // hivemind's DUMMY tensor does.
  const bool input_needs_grad = should_record(std::span<const Tensor>(call_inputs));
  std::vector<Tensor> node_inputs = call_inputs;
  if (!input_needs_grad) {
    node_inputs.push_back(
        Tensor::zeros(Shape{}, DType::kF32, inputs.device()).set_requires_grad(RequiresGrad::kYes));
  }

  std::vector<BackwardCall> backward_calls;
  backward_calls.reserve(calls.answered.size());
  for (size_t i = 0; i < calls.answered.size(); ++i) {
    backward_calls.push_back(
        BackwardCall{calls.answered[i].expert, calls.answered[i].rows,
                     call_inputs[i].detach().to(Device::cpu())});
  }
  if (!stats) stats = std::make_shared<BackwardCallStats>();
  record_op("remote_experts", node_inputs, outputs,
            [calls = std::move(backward_calls), batch_rows = inputs.size(0),
             device = inputs.device(), policy, stats, input_needs_grad](const GradContext& context) {
              std::vector<Tensor> grads =
                  run_backward_calls(calls, batch_rows, device, context, policy, *stats);
              if (!input_needs_grad) grads.emplace_back();  // the leaf's: none
              return grads;
            });
  return outputs;
}

}  // namespace hive::moe
