#include "moe/client/remote_mixture_of_experts.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "engine/ops.h"

namespace hive::moe {
namespace {

using Clock = std::chrono::steady_clock;

// Added to the scores of padding slots so that softmax gives them (exactly) zero weight; finite,
// so a row without answers gets finite weights that the answered mask then zeroes.
constexpr float kPaddingScore = -1e9f;

std::string describe_failures(const ForwardCalls& calls) {
  if (calls.failures.empty()) return "";
  return hive::str_cat("; first failure: ", calls.failures.front());
}

}  // namespace

RemoteMixtureOfExperts::RemoteMixtureOfExperts(RemoteMoeConfig config, BeamSearch& beam_search,
                                               RemoteExpertPool& pool, Generator& generator)
    : config_(config), beam_search_(beam_search), pool_(pool) {
  HIVE_REQUIRE(config_.in_features > 0, "RemoteMixtureOfExperts: in_features must be positive, got ",
               config_.in_features);
  HIVE_REQUIRE(config_.out_features > 0,
               "RemoteMixtureOfExperts: out_features must be positive, got ", config_.out_features);
  HIVE_REQUIRE(config_.k_best >= 1, "RemoteMixtureOfExperts: k_best must be at least 1, got ",
               config_.k_best);
  HIVE_REQUIRE(config_.k_min >= 0 && config_.k_min <= config_.k_best,
               "RemoteMixtureOfExperts: k_min = ", config_.k_min, " is outside [0, k_best = ",
               config_.k_best, "]");
  HIVE_REQUIRE(config_.backward_k_min >= 0 && config_.backward_k_min <= config_.k_best,
               "RemoteMixtureOfExperts: backward_k_min = ", config_.backward_k_min,
               " is outside [0, k_best = ", config_.k_best, "]");
  if (config_.beam_size == 0) config_.beam_size = 2 * config_.k_best;
  HIVE_REQUIRE(config_.beam_size >= config_.k_best, "RemoteMixtureOfExperts: beam_size = ",
               config_.beam_size, " is smaller than k_best = ", config_.k_best);
  HIVE_REQUIRE(config_.forward_timeout.count() > 0 && config_.backward_timeout.count() > 0,
               "RemoteMixtureOfExperts: forward_timeout (", config_.forward_timeout.count(),
               " ms) and backward_timeout (", config_.backward_timeout.count(),
               " ms) must be positive");
  const std::vector<int64_t>& grid = beam_search_.grid();
  const int64_t coordinates = std::accumulate(grid.begin(), grid.end(), int64_t{0});
  gate_ = register_module("gate",
                          std::make_shared<nn::Linear>(config_.in_features, coordinates, generator));
}

RemoteMoeStats RemoteMixtureOfExperts::stats() const {
  return RemoteMoeStats{batches_.load(),
                        forward_calls_.load(),
                        failed_forward_calls_.load(),
                        backtracked_rows_.load(),
                        rows_without_answer_.load(),
                        backward_stats_->calls.load(),
                        backward_stats_->failed_calls.load()};
}

Tensor RemoteMixtureOfExperts::forward(const Tensor& x) {
  const Routed routed = route_and_call(x);
  if (routed.slots == 0) return zero_output(routed);
  const Tensor scores = answer_scores(routed, routed.scores);
  const Tensor masked = add(scores, affine(routed.answered, -kPaddingScore, kPaddingScore));
  return mix(routed, mul(softmax(masked, -1), routed.answered));
}

RemoteMixtureOfExperts::Routed RemoteMixtureOfExperts::route_and_call(const Tensor& x) {
  HIVE_REQUIRE(x.defined() && x.rank() == 2 && x.size(0) > 0 && x.size(1) == config_.in_features,
               "RemoteMixtureOfExperts: input has shape ",
               x.defined() ? str_cat(x.shape()) : std::string("undefined"),
               ", expected [n >= 1, ", config_.in_features, "]");
  const Clock::time_point deadline = Clock::now() + config_.forward_timeout;
  const int64_t rows = x.size(0);
  Routed routed;
  routed.scores = gate_->forward(x);
  const std::vector<std::vector<FoundExpert>> candidates = beam_search_.find_best_experts(
      routed.scores.detach().to(Device::cpu()).to(DType::kF32), config_.beam_size, deadline);

  const ForwardCallPolicy policy{config_.k_best, config_.k_min, config_.timeout_after_k_min,
                                 config_.detect_anomalies,
                                 TensorSchema{DType::kF32, Shape{config_.out_features}}};
  // The rows leave this thread as host memory (see remote_expert.h); the layer itself computes
  // on x's device.
  routed.calls = run_forward_calls(x.detach().to(Device::cpu()), candidates, pool_, policy, deadline);
  const ForwardCallStats& call_stats = routed.calls.stats;
  ++batches_;
  forward_calls_ += call_stats.calls;
  failed_forward_calls_ += call_stats.failed_calls;
  backtracked_rows_ += call_stats.backtracked_rows;
  rows_without_answer_ += call_stats.rows_without_answer;

  if (config_.allow_zero_outputs == AllowZeroOutputs::kNo) {
    for (int64_t row = 0; row < rows; ++row) {
      if (!routed.calls.rows[static_cast<size_t>(row)].empty()) continue;
      throw Error(hive::str_cat(
          "RemoteMixtureOfExperts: no expert answered row ", row, " (beam search found ",
          candidates[static_cast<size_t>(row)].size(), " alive experts under '",
          beam_search_.uid_prefix(), ".'; ", call_stats.calls, " calls, ",
          call_stats.failed_calls, " failed", describe_failures(routed.calls), ")"));
    }
  }
  const BackwardCallPolicy backward{config_.backward_k_min, config_.timeout_after_k_min,
                                    config_.backward_timeout, config_.allow_zero_outputs,
                                    config_.detect_anomalies};
  routed.outputs = remote_expert_outputs(x, routed.calls, backward, backward_stats_);

  for (const std::vector<RowAnswer>& answers : routed.calls.rows) {
    routed.slots = std::max(routed.slots, static_cast<int64_t>(answers.size()));
  }
  const std::vector<int64_t>& grid = beam_search_.grid();
  const int64_t dims = static_cast<int64_t>(grid.size());
  std::vector<int64_t> offsets(grid.size(), 0);
  std::exclusive_scan(grid.begin(), grid.end(), offsets.begin(), int64_t{0});
  std::vector<int64_t> coordinates(static_cast<size_t>(rows * routed.slots * dims), 0);
  std::vector<float> answered(static_cast<size_t>(rows * routed.slots), 0.0f);
  for (int64_t row = 0; row < rows; ++row) {
    const std::vector<RowAnswer>& answers = routed.calls.rows[static_cast<size_t>(row)];
    for (size_t slot = 0; slot < answers.size(); ++slot) {
      const std::vector<int64_t>& indices =
          routed.calls.answered[answers[slot].call].expert->uid().indices();
      const size_t flat = static_cast<size_t>(row * routed.slots) + slot;
      answered[flat] = 1.0f;
      for (int64_t d = 0; d < dims; ++d) {
        coordinates[flat * static_cast<size_t>(dims) + static_cast<size_t>(d)] =
            offsets[static_cast<size_t>(d)] + indices[static_cast<size_t>(d)];
      }
    }
  }
  routed.answer_coordinates =
      Tensor::from_vector(coordinates, Shape{rows, routed.slots * dims}).to(x.device());
  routed.answered = Tensor::from_vector(answered, Shape{rows, routed.slots}).to(x.device());
  return routed;
}

Tensor RemoteMixtureOfExperts::zero_output(const Routed& routed) const {
  const Tensor zeros = Tensor::zeros(Shape{routed.scores.size(0), config_.out_features},
                                     DType::kF32, routed.scores.device());
  return add(zeros, scale(sum(routed.scores, 1, KeepDim::kYes), 0.0f));
}

Tensor RemoteMixtureOfExperts::answer_scores(const Routed& routed,
                                             const Tensor& per_coordinate) const {
  const int64_t rows = per_coordinate.size(0);
  const int64_t dims = static_cast<int64_t>(beam_search_.grid().size());
  return sum(gather(per_coordinate, 1, routed.answer_coordinates)
                 .reshape(Shape{rows, routed.slots, dims}),
             2);
}

Tensor RemoteMixtureOfExperts::mix(const Routed& routed, const Tensor& weights) const {
  const int64_t rows = weights.size(0);
  std::vector<int64_t> call_offsets(routed.calls.answered.size(), 0);
  for (size_t call = 1; call < call_offsets.size(); ++call) {
    call_offsets[call] =
        call_offsets[call - 1] + static_cast<int64_t>(routed.calls.answered[call - 1].rows.size());
  }
  std::vector<int64_t> sources;
  std::vector<int64_t> slots;
  std::vector<int64_t> targets;
  for (int64_t row = 0; row < rows; ++row) {
    const std::vector<RowAnswer>& answers = routed.calls.rows[static_cast<size_t>(row)];
    for (size_t slot = 0; slot < answers.size(); ++slot) {
      sources.push_back(call_offsets[answers[slot].call] + answers[slot].position);
      slots.push_back(row * routed.slots + static_cast<int64_t>(slot));
      targets.push_back(row);
    }
  }
  const int64_t pairs = static_cast<int64_t>(sources.size());
  const Device device = weights.device();
  const auto on_device = [&](const std::vector<int64_t>& values) {
    return Tensor::from_vector(values, Shape{pairs}).to(device);
  };
  const Tensor answers = index_select(concat(routed.outputs, 0), 0, on_device(sources));
  const Tensor pair_weights =
      index_select(weights.reshape(Shape{rows * routed.slots}), 0, on_device(slots))
          .reshape(Shape{pairs, 1});
  return index_add(Tensor::zeros(Shape{rows, config_.out_features}, DType::kF32, device), 0,
                   on_device(targets), mul(answers, pair_weights));
}

}  // namespace hive::moe
