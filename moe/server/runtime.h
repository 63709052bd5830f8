// Runtime: the one compute thread of one device on a server. It owns the task pools of the
// experts on its device, takes the next ready batch (of the ready pools, the one whose oldest
// call is oldest), decodes and concatenates the calls' rows, runs the expert's forward or
// backward (which takes the optimizer step), and answers each call with exactly its rows.
// A batch that fails answers exactly its own calls with the error; the runtime keeps serving.
// Experts that can run grouped (ExpertModule::grouped_block, the ffn type) run together: the
// next batches of other such experts of the same shape with calls of the same kind waiting join
// the ready batch in one grouped launch (on a GPU, one grouped GEMM per layer for all of them
// instead of a chain of kernels per expert), as long as the launch holds no more rows than one
// batch of the ready expert may. Those calls then run before their max_wait, which costs them
// nothing: the launch runs anyway.
//
// Threads: submit(), run_between_batches(), stats() and shutdown() are safe from any thread (the
// I/O thread submits; submitting only queues). Everything else runs on the runtime's own thread.
// Waiting for max_wait is a condition variable with a deadline, never a sleep.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/core/device.h"
#include "moe/server/batch_execution.h"
#include "moe/server/task_pool.h"

namespace hive::moe {

class Runtime {
 public:
  explicit Runtime(Device device);
  // shutdown() if that has not happened yet.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Device device() const { return device_; }

  // Before serving (not thread-safe against submit()): a pool for `backend`'s calls of `kind`,
  // owned by the runtime. `backend` must outlive the runtime and live on device().
  TaskPool& add_pool(ExpertBackend& backend, TaskKind kind, std::chrono::nanoseconds max_wait);

  // Queues `task` on `pool` (one of this runtime's), or refuses it: the pool's refusal, or
  // kUnavailable once the runtime is shutting down. A refused task's done is not called.
  net::Status submit(TaskPool& pool, Task task);

  TaskPoolStats stats(const TaskPool& pool);

  // Runs `work` with no batch running, so it may read or change the backends (a checkpoint
  // does): on the runtime's thread before its next batch, however long calls have waited, or,
  // once the thread has exited after shutdown(), on the calling thread. The future is ready
  // when `work` has run and holds what it threw. Never wait on it from `work` itself or from a
  // task's done (both run on the runtime's thread).
  std::future<void> run_between_batches(std::function<void()> work);

  // Finishes the batch running now, answers every queued call with kUnavailable, and joins the
  // thread. Idempotent.
  void shutdown();

 private:
  void run();
  // The pool to take a batch from now, or null; sets `wake_at` to when the next pool becomes
  // ready (max() when every pool is empty). Caller holds mutex_.
  TaskPool* ready_pool(TaskPool::Clock::time_point& wake_at);
  // `first`'s next batch, with the next batch of every pool that can run grouped with it (see
  // the top). Caller holds mutex_.
  std::vector<ExpertBatch> take_group(TaskPool& first);
  // Runs every queued run_between_batches() work; unlocks `lock` while it runs.
  void run_queued_work(std::unique_lock<std::mutex>& lock);

  Device device_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::deque<std::packaged_task<void()>> queued_work_;  // guarded by mutex_
  // Set by the thread once it has run the last queued work: later work runs on its caller.
  bool exited_ = false;  // guarded by mutex_
  std::vector<std::unique_ptr<TaskPool>> pools_;  // guarded by mutex_ once serving
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace hive::moe
