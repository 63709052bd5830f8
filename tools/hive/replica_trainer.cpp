#include "tools/hive/replica_trainer.h"

#include <cmath>
#include <exception>
#include <thread>

#include "engine/autograd/grad_mode.h"
#include "engine/core/backend.h"
#include "engine/nn/metrics.h"
#include "engine/ops.h"
#include "engine/optim/clip_grad.h"

namespace hive::tools {

ReplicaTrainer::ReplicaTrainer(nn::Module& master, std::vector<nn::UnaryModule*> replicas,
                               optim::Optimizer& optimizer, ReplicaTrainerOptions options)
    : master_(master), replicas_(std::move(replicas)), optimizer_(optimizer), options_(options) {
  HIVE_REQUIRE(!replicas_.empty(), "ReplicaTrainer: no replicas");
  const nn::NamedTensors params = master_.named_parameters();
  for (nn::UnaryModule* replica : replicas_) {
    const nn::NamedTensors replica_params = replica->named_parameters();
    HIVE_REQUIRE(replica_params.size() == params.size(), "ReplicaTrainer: a replica has ",
                 replica_params.size(), " parameters, the master ", params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      HIVE_REQUIRE(replica_params[i].first == params[i].first &&
                       replica_params[i].second.shape() == params[i].second.shape(),
                   "ReplicaTrainer: replica parameter ", replica_params[i].first, " ",
                   replica_params[i].second.shape(), " does not match the master's ",
                   params[i].first, " ", params[i].second.shape());
    }
  }
}

void ReplicaTrainer::copy_master_into(nn::UnaryModule& replica) {
  NoGradGuard no_grad;
  const nn::NamedTensors source = master_.named_parameters();
  const nn::NamedTensors target = replica.named_parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].second.copy_from(source[i].second);
  finish_queued_work();
}

// On a GPU each worker queues work on a stream of its own: the master's parameters may be read or
// updated by the next worker only once this one's copies and steps are done.
void ReplicaTrainer::finish_queued_work() {
  const nn::NamedTensors params = master_.named_parameters();
  if (!params.empty()) synchronize(params.front().second.device());
}

void ReplicaTrainer::run_workers(int64_t first, int64_t last,
                                 const std::function<void(nn::UnaryModule&, int64_t)>& work) {
  next_item_ = first;
  std::exception_ptr failure;
  std::vector<std::thread> workers;
  for (nn::UnaryModule* replica : replicas_) {
    workers.emplace_back([&, replica] {
      try {
        for (;;) {
          int64_t item = 0;
          {
            std::lock_guard lock(mutex_);
            if (next_item_ >= last || failure) return;
            item = next_item_++;
          }
          work(*replica, item);
        }
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!failure) failure = std::current_exception();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  if (failure) std::rethrow_exception(failure);
}

void ReplicaTrainer::train(int64_t first, int64_t last,
                           const std::function<data::Batch(int64_t)>& batch_of,
                           const std::function<float(int64_t)>& lr_at,
                           const std::function<void(const StepOutcome&)>& on_step) {
  run_workers(first, last, [&](nn::UnaryModule& replica, int64_t step) {
    data::Batch batch;
    {
      std::lock_guard lock(mutex_);
      batch = batch_of(step);
      copy_master_into(replica);
    }
    StepOutcome outcome{.step = step, .rows = batch.labels.numel()};
    std::string failure;
    try {
      replica.zero_grad();
      const Tensor logits = replica.forward(batch.inputs);
      const Tensor loss = cross_entropy(logits, batch.labels);
      loss.backward();
      outcome.loss = static_cast<double>(loss.item<float>());
      outcome.correct = nn::count_correct(logits, batch.labels);
    } catch (const std::exception& error) {
      failure = error.what();
    }

    std::lock_guard lock(mutex_);
    if (!failure.empty()) {
      ++failed_steps_;
      last_failure_ = std::move(failure);
      HIVE_REQUIRE(++failed_in_a_row_ < options_.max_failed_in_a_row, "training: ",
                   failed_in_a_row_, " steps in a row failed; the last: ", last_failure_);
      return;
    }
    failed_in_a_row_ = 0;
    const nn::NamedTensors master_params = master_.named_parameters();
    const nn::NamedTensors replica_params = replica.named_parameters();
    for (size_t i = 0; i < master_params.size(); ++i) {
      master_params[i].second.set_grad(replica_params[i].second.grad());
    }
    replica.zero_grad();
    const float norm = optim::clip_grad_norm(master_.parameters(), options_.clip_norm);
    if (std::isfinite(norm)) {
      optimizer_.set_lr(lr_at(step));
      optimizer_.step();
    }
    optimizer_.zero_grad();
    finish_queued_work();
    on_step(outcome);
  });
}

int64_t ReplicaTrainer::count_correct(int64_t batches,
                                      const std::function<data::Batch(int64_t)>& batch_of) {
  for (nn::UnaryModule* replica : replicas_) {
    copy_master_into(*replica);
    replica->set_mode(nn::Mode::kEval);
  }
  // Back to training mode however the evaluation ends.
  struct TrainModeAgain {
    std::vector<nn::UnaryModule*>& replicas;
    ~TrainModeAgain() {
      for (nn::UnaryModule* replica : replicas) replica->set_mode(nn::Mode::kTrain);
    }
  } train_mode_again{replicas_};
  int64_t correct = 0;
  run_workers(0, batches, [&](nn::UnaryModule& replica, int64_t index) {
    data::Batch batch;
    {
      std::lock_guard lock(mutex_);
      batch = batch_of(index);
    }
    NoGradGuard no_grad;
    const int64_t right = nn::count_correct(replica.forward(batch.inputs), batch.labels);
    std::lock_guard lock(mutex_);
    correct += right;
  });
  return correct;
}

}  // namespace hive::tools
