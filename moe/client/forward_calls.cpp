#include "moe/client/forward_calls.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <set>

#include "engine/ops.h"
#include "moe/client/completion_queue.h"

namespace hive::moe {
namespace {

using Clock = std::chrono::steady_clock;

// A call in flight: which rows it carries and from which of their candidates.
struct LaunchedCall {
  std::shared_ptr<RemoteExpert> expert;
  std::string expert_key;
  std::vector<int64_t> rows;
  std::vector<size_t> candidates;
};

struct RowState {
  size_t next_candidate = 0;
  int64_t pending = 0;
  int64_t answered = 0;
};

std::string expert_key(const ExpertLocation& location) {
  return hive::str_cat(location.uid.to_string(), "@", location.address.to_string());
}

class ForwardRun {
 public:
  ForwardRun(const Tensor& inputs, std::span<const std::vector<FoundExpert>> candidates,
             RemoteExpertPool& pool, const ForwardCallPolicy& policy, Clock::time_point deadline)
      : inputs_(inputs),
        candidates_(candidates),
        pool_(pool),
        policy_(policy),
        deadline_(deadline),
        rows_(candidates.size()) {
    result_.rows.resize(candidates.size());
  }

  ForwardCalls run() {
    std::vector<int64_t> all_rows(rows_.size());
    for (size_t row = 0; row < rows_.size(); ++row) all_rows[row] = static_cast<int64_t>(row);
    launch(all_rows);
    std::optional<Clock::time_point> stragglers_until;
    while (in_flight_ > 0) {
      if (!stragglers_until && every_row_has_k_min()) {
        stragglers_until = std::min(deadline_, Clock::now() + policy_.timeout_after_k_min);
      }
      std::optional<CallCompletion> completion =
          queue_->pop_until(stragglers_until.value_or(deadline_));
      if (!completion) break;
      finish(std::move(*completion));
    }
    for (const RowState& row : rows_) {
      if (row.answered == 0) ++result_.stats.rows_without_answer;
    }
    for (std::vector<RowAnswer>& answers : result_.rows) {
      std::sort(answers.begin(), answers.end(),
                [](const RowAnswer& a, const RowAnswer& b) { return a.candidate < b.candidate; });
    }
    return std::move(result_);
  }

 private:
  // Sends each of `rows` to its next k_best candidates that have not failed in this batch,
  // one call per expert.
  void launch(std::span<const int64_t> rows) {
    std::map<std::string, LaunchedCall> groups;
    for (int64_t row : rows) {
      RowState& state = rows_[static_cast<size_t>(row)];
      const std::vector<FoundExpert>& options = candidates_[static_cast<size_t>(row)];
      int64_t taken = 0;
      while (taken < policy_.k_best && state.next_candidate < options.size()) {
        const size_t candidate = state.next_candidate++;
        std::string key = expert_key(options[candidate].location);
        if (failed_experts_.contains(key)) continue;
        LaunchedCall& call = groups[key];
        if (!call.expert) {
          call.expert = pool_.get(options[candidate].location);
          call.expert_key = key;
        }
        call.rows.push_back(row);
        call.candidates.push_back(candidate);
        ++state.pending;
        ++taken;
      }
    }
    for (auto& [key, call] : groups) send(std::move(call));
  }

  // One call per max-batch-size chunk of the rows.
  void send(LaunchedCall call) {
    const int64_t limit = max_batch_size(*call.expert);
    if (static_cast<int64_t>(call.rows.size()) <= limit) return send_one(std::move(call));
    for (size_t begin = 0; begin < call.rows.size(); begin += static_cast<size_t>(limit)) {
      const size_t end = std::min(call.rows.size(), begin + static_cast<size_t>(limit));
      LaunchedCall chunk{call.expert, call.expert_key,
                         std::vector<int64_t>(call.rows.begin() + begin, call.rows.begin() + end),
                         std::vector<size_t>(call.candidates.begin() + begin,
                                             call.candidates.begin() + end)};
      send_one(std::move(chunk));
    }
  }

  // The expert's limit when its schema is here; unknown (no split) before its first answer.
  static int64_t max_batch_size(RemoteExpert& expert) {
    const std::shared_future<net::Result<ExpertInfo>> info = expert.info_async();
    if (info.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
        !info.get().is_ok()) {
      return std::numeric_limits<int64_t>::max();
    }
    return info.get().value().max_batch_size;
  }

  void send_one(LaunchedCall call) {
    const size_t id = launched_.size();
    const Tensor batch =
        index_select(inputs_, 0, Tensor::from_vector(call.rows, Shape{static_cast<int64_t>(call.rows.size())}));
    std::shared_ptr<RemoteExpert> expert = call.expert;
    launched_.push_back(std::move(call));
    ++in_flight_;
    ++result_.stats.calls;
    expert->forward(std::span<const Tensor>(&batch, 1), remaining_until(deadline_),
                    [queue = queue_, id](ExpertReply reply) {
                      queue->push(CallCompletion{id, std::move(reply)});
                    });
  }

  void finish(CallCompletion completion) {
    --in_flight_;
    LaunchedCall& call = launched_[completion.call];
    std::string failure;
    if (!completion.reply.is_ok()) {
      failure = completion.reply.status().message();
    } else if (completion.reply.value().size() != 1) {
      failure = hive::str_cat("expert ", call.expert->uid(), " returned ",
                              completion.reply.value().size(),
                              " outputs; a DMoE layer needs experts with one output");
    } else if (policy_.expected_output &&
               (completion.reply.value()[0].dtype() != policy_.expected_output->dtype ||
                completion.reply.value()[0].shape() !=
                    policy_.expected_output->batch_shape(static_cast<int64_t>(call.rows.size())))) {
      failure = hive::str_cat("expert ", call.expert->uid(), " returned ",
                              completion.reply.value()[0].dtype(), " ",
                              completion.reply.value()[0].shape(), ", expected ",
                              *policy_.expected_output, " (the layer's out_features)");
    } else if (policy_.detect_anomalies == DetectAnomalies::kYes &&
               !all_finite(completion.reply.value()[0])) {
      failure = hive::str_cat("expert ", call.expert->uid(), " returned NaN or Inf");
    }

    std::vector<int64_t> retry;
    if (failure.empty()) {
      const size_t answered = result_.answered.size();
      for (size_t i = 0; i < call.rows.size(); ++i) {
        RowState& row = rows_[static_cast<size_t>(call.rows[i])];
        --row.pending;
        ++row.answered;
        result_.rows[static_cast<size_t>(call.rows[i])].push_back(
            RowAnswer{answered, static_cast<int64_t>(i), call.candidates[i]});
      }
      const int64_t count = static_cast<int64_t>(call.rows.size());
      result_.answered.push_back(AnsweredCall{call.expert, call.rows,
                                              Tensor::from_vector(call.rows, Shape{count}),
                                              std::move(completion.reply).value()[0]});
      return;
    }
    ++result_.stats.failed_calls;
    failed_experts_.insert(call.expert_key);
    if (result_.failures.size() < kFailuresKept) result_.failures.push_back(std::move(failure));
    for (int64_t row : call.rows) {
      RowState& state = rows_[static_cast<size_t>(row)];
      --state.pending;
      if (state.pending == 0 && state.answered == 0 &&
          state.next_candidate < candidates_[static_cast<size_t>(row)].size()) {
        retry.push_back(row);
      }
    }
    if (!retry.empty() && Clock::now() < deadline_) {
      result_.stats.backtracked_rows += retry.size();
      launch(retry);
    }
  }

  // Rows that cannot get k_min answers any more (no candidates left) count as done.
  bool every_row_has_k_min() const {
    for (size_t row = 0; row < rows_.size(); ++row) {
      const RowState& state = rows_[row];
      if (state.answered >= policy_.k_min) continue;
      if (state.pending > 0) return false;
    }
    return true;
  }

  static constexpr size_t kFailuresKept = 8;

  const Tensor& inputs_;
  std::span<const std::vector<FoundExpert>> candidates_;
  RemoteExpertPool& pool_;
  const ForwardCallPolicy& policy_;
  Clock::time_point deadline_;
  std::vector<RowState> rows_;
  std::vector<LaunchedCall> launched_;
  std::set<std::string> failed_experts_;
  int64_t in_flight_ = 0;
  std::shared_ptr<CompletionQueue<CallCompletion>> queue_ =
      std::make_shared<CompletionQueue<CallCompletion>>();
  ForwardCalls result_;
};

}  // namespace

ForwardCalls run_forward_calls(const Tensor& inputs,
                               std::span<const std::vector<FoundExpert>> candidates,
                               RemoteExpertPool& pool, const ForwardCallPolicy& policy,
                               std::chrono::steady_clock::time_point deadline) {
  HIVE_REQUIRE(inputs.defined() && inputs.rank() >= 1 &&
                   inputs.size(0) == static_cast<int64_t>(candidates.size()),
               "run_forward_calls: ", candidates.size(), " candidate lists for inputs of shape ",
               inputs.defined() ? str_cat(inputs.shape()) : std::string("undefined"));
  HIVE_REQUIRE(policy.k_best >= 1 && policy.k_min >= 0, "run_forward_calls: k_best = ",
               policy.k_best, ", k_min = ", policy.k_min);
  NoGradGuard no_grad;
  return ForwardRun(inputs, candidates, pool, policy, deadline).run();
}

bool all_finite(const Tensor& tensor) {
  const Tensor values = tensor.to(Device::cpu()).to(DType::kF32);
  const float* data = values.data<float>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    if (!std::isfinite(data[i])) return false;
  }
  return true;
}

}  // namespace hive::moe
