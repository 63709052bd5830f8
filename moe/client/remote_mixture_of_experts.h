// RemoteMixtureOfExperts: a layer whose experts live on other machines (the paper's DMoE layer;
// hivemind's RemoteMixtureOfExperts), with the semantics of the local nn::MixtureOfExperts.
//
// forward(x): one linear layer scores every coordinate of every grid dimension; beam search
// (beam_search.h) finds each row's best alive experts; every chosen expert gets one call with
// all of its rows, waited for as forward_calls.h describes (k_min, timeout_after_k_min,
// forward_timeout, backtracking to the next best experts when all of a row's experts fail);
// the output is the softmax-weighted average over the experts that answered. When every
// expert answers, outputs and gradients equal the local layer's over the same experts.
//
// A row that no expert answered fails the call with an error that says why (the first expert
// failures), unless allow_zero_outputs: then its output is zeros and its weights are zero (no
// NaN). Backward goes only to the experts that answered forward (remote_expert_op.h).
//
// Threads: forward() may run on several threads at once (a trainer with several batches in
// flight); the beam search, the expert pool and the endpoint are shared. Backward passes that
// reach the gate's parameters must not run concurrently with each other (the engine accumulates
// gradients without locks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/layers.h"
#include "moe/client/beam_search.h"
#include "moe/client/forward_calls.h"
#include "moe/client/remote_expert_op.h"
#include "moe/client/remote_expert_pool.h"

namespace hive::moe {

struct RemoteMoeConfig {
  int64_t in_features = 0;
  int64_t out_features = 0;  // of every expert: [rows, out_features]
  int64_t k_best = 2;        // experts per row
  int64_t k_min = 1;         // answers per row to wait for before timeout_after_k_min starts
  // Candidates per row that beam search finds; those after the first k_best are the ones
  // backtracking tries. 0: 2 * k_best.
  int64_t beam_size = 0;
  std::chrono::milliseconds forward_timeout{10000};  // search and calls together
  std::chrono::milliseconds timeout_after_k_min{1000};
  int64_t backward_k_min = 1;
  std::chrono::milliseconds backward_timeout{10000};
  AllowZeroOutputs allow_zero_outputs = AllowZeroOutputs::kNo;
  DetectAnomalies detect_anomalies = DetectAnomalies::kNo;
};

struct RemoteMoeStats {
  uint64_t batches = 0;
  uint64_t forward_calls = 0;
  uint64_t failed_forward_calls = 0;
  uint64_t backtracked_rows = 0;
  uint64_t rows_without_answer = 0;
  uint64_t backward_calls = 0;
  uint64_t failed_backward_calls = 0;

  RemoteMoeStats& operator+=(const RemoteMoeStats& other) {
    batches += other.batches;
    forward_calls += other.forward_calls;
    failed_forward_calls += other.failed_forward_calls;
    backtracked_rows += other.backtracked_rows;
    rows_without_answer += other.rows_without_answer;
    backward_calls += other.backward_calls;
    failed_backward_calls += other.failed_backward_calls;
    return *this;
  }
};

class RemoteMixtureOfExperts : public nn::UnaryModule {
 public:
  // Parameters: gate.{weight,bias} [sum(grid), in_features], [sum(grid)]. The beam search
  // (which names the grid and the uid prefix) and the pool must outlive the layer. Throws
  // hive::Error naming the setting when the config is unusable.
  RemoteMixtureOfExperts(RemoteMoeConfig config, BeamSearch& beam_search, RemoteExpertPool& pool,
                         Generator& generator);

  Tensor forward(const Tensor& x) override;  // [n, in_features] -> [n, out_features]

  const RemoteMoeConfig& config() const { return config_; }
  nn::Linear& gate() { return *gate_; }
  RemoteMoeStats stats() const;

 protected:
  // A batch routed and called: the gate's scores, who answered which rows, and the answers as
  // differentiable tensors.
  struct Routed {
    Tensor scores;  // [n, sum(grid)], differentiable
    ForwardCalls calls;
    std::vector<Tensor> outputs;  // one per answered call
    int64_t slots = 0;            // the most answers any row got
    Tensor answer_coordinates;    // i64 [n, slots * dims]: positions in `scores`, 0 for padding
    Tensor answered;              // f32 [n, slots]: 1 for an answer, 0 for padding
  };

  Routed route_and_call(const Tensor& x);
  BeamSearch& beam_search() { return beam_search_; }
  // sum over each row's answers of weights[row, slot] * answer (weights [n, slots]).
  Tensor mix(const Routed& routed, const Tensor& weights) const;
  // Zeros [n, out_features] that depend on the gate's scores, so that a trainer's backward pass
  // through a batch nobody answered runs (and gives the gate zero gradients).
  Tensor zero_output(const Routed& routed) const;
  // Each answer's score: the sum of its coordinates' entries of `per_coordinate` ([n, sum(grid)]).
  Tensor answer_scores(const Routed& routed, const Tensor& per_coordinate) const;

 private:
  RemoteMoeConfig config_;
  BeamSearch& beam_search_;
  RemoteExpertPool& pool_;
  std::shared_ptr<nn::Linear> gate_;
  std::shared_ptr<BackwardCallStats> backward_stats_ = std::make_shared<BackwardCallStats>();
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> forward_calls_{0};
  std::atomic<uint64_t> failed_forward_calls_{0};
  std::atomic<uint64_t> backtracked_rows_{0};
  std::atomic<uint64_t> rows_without_answer_{0};
};

}  // namespace hive::moe
