#include "moe/server/runtime.h"

#include <algorithm>

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
    std::vector<Task> batch = pool->take_batch();
    lock.unlock();
    execute_batch(pool->backend(), pool->kind(), device_, batch);
    lock.lock();
  }
  // Work queued before or during shutdown runs here, after the last batch.
  while (!queued_work_.empty()) run_queued_work(lock);
  exited_ = true;
}

}  // namespace hive::moe
