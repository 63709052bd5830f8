#include "moe/server/runtime.h"

#include <algorithm>

#include "engine/nn/ffn_expert.h"
#include "moe/server/batch_execution.h"

namespace hive::moe {

Runtime::Runtime(Device device) : device_(device), thread_([this] { run(); }) {}

Runtime::~Runtime() { shutdown(); }

TaskPool& Runtime::add_pool(ExpertBackend& backend, TaskKind kind,
                            std::chrono::nanoseconds max_wait) {
  std::lock_guard lock(mutex_);
  pools_.push_back(std::make_unique<TaskPool>(backend, kind, max_wait));
  return *pools_.back();
}

net::Status Runtime::submit(TaskPool& pool, Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return net::Status(net::StatusCode::kUnavailable,
                         hive::str_cat("expert ", pool.backend().uid(),
                                       ": the server is shutting down"));
    }
    if (net::Status status = pool.add(std::move(task)); !status.is_ok()) return status;
  }
  wake_.notify_one();
  return net::Status::ok();
}

TaskPoolStats Runtime::stats(const TaskPool& pool) {
  std::lock_guard lock(mutex_);
  return pool.stats();
}

std::future<void> Runtime::run_between_batches(std::function<void()> work) {
  std::packaged_task<void()> task(std::move(work));
  std::future<void> done = task.get_future();
  {
    std::lock_guard lock(mutex_);
    if (!exited_) {
      queued_work_.push_back(std::move(task));
      wake_.notify_one();
      return done;
    }
  }
  task();
  return done;
}

void Runtime::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::vector<std::pair<const TaskPool*, std::vector<Task>>> pending;
  {
    std::lock_guard lock(mutex_);
    for (const auto& pool : pools_) pending.emplace_back(pool.get(), pool->take_all());
  }
  for (auto& [pool, tasks] : pending) {
    for (Task& task : tasks) {
      task.done(net::Status(net::StatusCode::kUnavailable,
                            hive::str_cat("expert ", pool->backend().uid(),
                                          ": the server shut down before this ",
                                          task_kind_name(pool->kind()), " call ran")));
    }
  }
}

TaskPool* Runtime::ready_pool(TaskPool::Clock::time_point& wake_at) {
  const auto now = TaskPool::Clock::now();
  wake_at = TaskPool::Clock::time_point::max();
  TaskPool* ready = nullptr;
  for (const auto& pool : pools_) {
    if (pool->empty()) continue;
    const auto ready_at = pool->ready_at();
    if (ready_at > now) {
      wake_at = std::min(wake_at, ready_at);
    } else if (ready == nullptr || pool->oldest_arrival() < ready->oldest_arrival()) {
      ready = pool.get();
    }
  }
  return ready;
}

namespace {

// Blocks whose calls can share one grouped launch: the same layer shapes and normalization.
bool same_shape(const nn::FeedForwardExpert& a, const nn::FeedForwardExpert& b) {
  return a.up().weight().shape() == b.up().weight().shape() &&
         a.up().weight().dtype() == b.up().weight().dtype() && a.norm().eps() == b.norm().eps();
}

int64_t rows_of(const std::vector<Task>& batch) {
  int64_t rows = 0;
  for (const Task& task : batch) rows += task.rows;
  return rows;
}

}  // namespace

std::vector<ExpertBatch> Runtime::take_group(TaskPool& first) {
  std::vector<ExpertBatch> group;
  group.push_back({&first.backend(), first.take_batch()});
  const nn::FeedForwardExpert* block = first.backend().module().grouped_block();
  if (block == nullptr) return group;
  // A grouped launch holds no more rows than one batch of the first expert may: its memory
  // stays what the operator sized max_batch_size for, and full batches run as they always did.
  int64_t room = first.max_batch_rows() - rows_of(group.front().tasks);
  for (const auto& pool : pools_) {
    if (pool.get() == &first || pool->empty() || pool->kind() != first.kind()) continue;
    const nn::FeedForwardExpert* other = pool->backend().module().grouped_block();
    if (other == nullptr || !same_shape(*block, *other) || pool->next_call_rows() > room) continue;
    group.push_back({&pool->backend(), pool->take_batch(room)});
    room -= rows_of(group.back().tasks);
    pool->count_grouped();
  }
  if (group.size() > 1) first.count_grouped();
  return group;
}

void Runtime::run_queued_work(std::unique_lock<std::mutex>& lock) {
  std::deque<std::packaged_task<void()>> work;
  work.swap(queued_work_);
  lock.unlock();
  for (std::packaged_task<void()>& task : work) task();
  lock.lock();
}

void Runtime::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!queued_work_.empty()) {
      run_queued_work(lock);
      continue;
    }
    TaskPool::Clock::time_point wake_at;
    TaskPool* pool = ready_pool(wake_at);
    if (pool == nullptr) {
      // Woken by submit(), run_between_batches(), shutdown(), or when the first waiting pool's
      // max_wait runs out.
      if (wake_at == TaskPool::Clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, wake_at);
      }
      continue;
    }
    const TaskKind kind = pool->kind();
    std::vector<ExpertBatch> group = take_group(*pool);
    lock.unlock();
    if (group.size() == 1) {
      execute_batch(*group.front().backend, kind, device_, group.front().tasks);
    } else {
      execute_grouped(group, kind, device_);
    }
    lock.lock();
  }
  // Work queued before or during shutdown runs here, after the last batch.
  while (!queued_work_.empty()) run_queued_work(lock);
  exited_ = true;
}

}  // namespace hive::moe
