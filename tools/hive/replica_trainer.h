// Training with several batches in flight, as a parameter server does it (asynchronous SGD with
// bounded staleness). The master model holds the parameters and the optimizer; each worker
// thread has a replica of the model. A step copies the master's parameters into the worker's
// replica (under the lock), runs forward and backward on the replica without the lock, so that
// the workers wait for remote experts at the same time, then hands the replica's gradients to
// the master under the lock, clips them and takes the optimizer step. A step's gradients are at
// most (workers - 1) updates old.
//
// A step whose forward or backward throws (a DMoE layer whose experts all failed, without
// allow_zero_outputs) is dropped and counted; the run fails only after `max_failed_in_a_row`
// dropped steps in a row.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "engine/data/batches.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"

namespace hive::tools {

struct StepOutcome {
  int64_t step = 0;
  double loss = 0.0;  // mean over the batch's rows
  int64_t correct = 0;
  int64_t rows = 0;
};

struct ReplicaTrainerOptions {
  float clip_norm = 1.0f;
  int64_t max_failed_in_a_row = 20;
};

class ReplicaTrainer {
 public:
  // `replicas` have the master's architecture (same parameter names and shapes) and must
  // outlive the trainer; one worker thread per replica.
  ReplicaTrainer(nn::Module& master, std::vector<nn::UnaryModule*> replicas,
                 optim::Optimizer& optimizer, ReplicaTrainerOptions options = {});

  // Runs steps [first, last). batch_of(step), lr_at(step) and on_step(outcome) run under the
  // lock (in step order for batch_of; on_step in completion order). Throws hive::Error after
  // too many failed steps in a row.
  void train(int64_t first, int64_t last, const std::function<data::Batch(int64_t)>& batch_of,
             const std::function<float(int64_t)>& lr_at,
             const std::function<void(const StepOutcome&)>& on_step);

  // Rows of `batches` batches classified right by the master's current parameters (forward
  // only, without dropout, several batches in flight).
  int64_t count_correct(int64_t batches, const std::function<data::Batch(int64_t)>& batch_of);

  int64_t failed_steps() const { return failed_steps_; }
  const std::string& last_failure() const { return last_failure_; }

 private:
  // Runs work(replica, item) for items [first, last) on one thread per replica, items taken in
  // order under the lock; the first exception that escapes `work` is rethrown at the end.
  void run_workers(int64_t first, int64_t last,
                   const std::function<void(nn::UnaryModule&, int64_t)>& work);
  // Under the lock.
  void copy_master_into(nn::UnaryModule& replica);
  void finish_queued_work();

  nn::Module& master_;
  std::vector<nn::UnaryModule*> replicas_;
  optim::Optimizer& optimizer_;
  ReplicaTrainerOptions options_;
  std::mutex mutex_;
  int64_t next_item_ = 0;
  int64_t failed_steps_ = 0;
  int64_t failed_in_a_row_ = 0;
  std::string last_failure_;
};

}  // namespace hive::tools
