// One batch's forward calls of a DMoE layer (the paper's "dropout-like" fault tolerance):
//
// - each row's first k_best candidates (beam search order) are grouped by expert, and every
//   expert gets one call with all of its rows;
// - a call carries at most the expert's max batch size of rows (once its schema is known; an
//   expert's first call is sent whole), more rows make more calls;
// - the wait ends when every row has k_min answers, plus at most timeout_after_k_min for
//   stragglers, and never later than the deadline (forward_timeout);
// - an expert that fails (an error, a timeout, or with detect_anomalies a NaN/Inf output)
//   counts as absent for this batch; a row whose calls have all failed is retried at once with
//   its next k_best candidates (backtracking), grouped by expert again, while candidates last.
//
// The calls carry the inputs' rows as they are (no gradients); remote_expert_op.h turns the
// answers into differentiable outputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "moe/client/beam_search.h"
#include "moe/client/remote_expert_pool.h"
#include "moe/experts/tensor_schema.h"

namespace hive::moe {

enum class DetectAnomalies : uint8_t { kNo, kYes };

struct ForwardCallPolicy {
  int64_t k_best = 2;
  int64_t k_min = 1;
  std::chrono::milliseconds timeout_after_k_min{1000};
  DetectAnomalies detect_anomalies = DetectAnomalies::kNo;
  // When set, an answer of another dtype or row shape counts as a failed call (the expert is a
  // peer: its schema may not be what the layer needs).
  std::optional<TensorSchema> expected_output = std::nullopt;
};

// A call that answered.
struct AnsweredCall {
  std::shared_ptr<RemoteExpert> expert;
  std::vector<int64_t> rows;  // the batch rows it carried, ascending
  Tensor row_index;           // the same as i64 [rows.size()]
  Tensor output;              // [rows.size(), ...]
};

// One of a row's answers: output row `position` of answered call `call`, from the row's
// candidate number `candidate`.
struct RowAnswer {
  size_t call = 0;
  int64_t position = 0;
  size_t candidate = 0;
};

struct ForwardCallStats {
  uint64_t calls = 0;         // calls sent (backtracking ones included)
  uint64_t failed_calls = 0;  // errors, timeouts and anomalies
  uint64_t backtracked_rows = 0;
  uint64_t rows_without_answer = 0;
};

struct ForwardCalls {
  std::vector<AnsweredCall> answered;
  std::vector<std::vector<RowAnswer>> rows;  // per batch row, by candidate order
  ForwardCallStats stats;
  std::vector<std::string> failures;  // why calls failed, for the layer's error message
};

// inputs: [n, ...] without gradient history; candidates: n lists, best first. Experts must
// have one input (the rows) and one output.
ForwardCalls run_forward_calls(const Tensor& inputs,
                               std::span<const std::vector<FoundExpert>> candidates,
                               RemoteExpertPool& pool, const ForwardCallPolicy& policy,
                               std::chrono::steady_clock::time_point deadline);

// True when every element of `tensor` (any floating dtype) is finite.
bool all_finite(const Tensor& tensor);

}  // namespace hive::moe
