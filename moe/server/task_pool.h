// TaskPool: the calls of one kind (forward or backward) waiting for one expert, and how they
// form batches. A batch is the oldest calls, in arrival order, up to the expert's max batch
// size in rows (a call is never split). A pool is ready when its next batch is full (the call
// after it would not fit) or when its oldest call has waited max_wait.
//
// Not thread-safe: its Runtime guards every pool with the runtime's mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "moe/server/expert_backend.h"
#include "moe/server/task.h"

namespace hive::moe {

struct TaskPoolStats {
  uint64_t batches = 0;       // batches taken to run
  uint64_t tasks = 0;         // calls in those batches
  uint64_t rows = 0;          // rows in those batches
  uint64_t largest_batch_tasks = 0;
  uint64_t grouped_batches = 0;  // of those, batches that ran in one launch with other experts'
};

class TaskPool {
 public:
  using Clock = std::chrono::steady_clock;

  TaskPool(ExpertBackend& backend, TaskKind kind, std::chrono::nanoseconds max_wait);

  ExpertBackend& backend() const { return backend_; }
  TaskKind kind() const { return kind_; }
  int64_t max_batch_rows() const { return backend_.max_batch_size(); }

  // Queues `task`, or refuses it at once (kInvalidArgument, naming the expert and both row
  // counts) when it has no rows or more rows than one batch may hold.
  net::Status add(Task task);

  bool empty() const { return tasks_.empty(); }
  // Requires !empty().
  Clock::time_point oldest_arrival() const { return tasks_.front().arrived; }
  // When the next batch may run: the oldest arrival when it is full already, else the oldest
  // arrival + max_wait. Requires !empty().
  Clock::time_point ready_at() const;

  // Rows of the oldest waiting call. Requires !empty().
  int64_t next_call_rows() const { return tasks_.front().rows; }
  // The next batch (see above), of at most `max_rows` rows when that is fewer than the
  // expert's limit (a batch that joins a grouped launch). Requires !empty(); with max_rows below
  // next_call_rows() the batch is empty.
  std::vector<Task> take_batch(int64_t max_rows = std::numeric_limits<int64_t>::max());
  // Every waiting call, for a server that shuts down.
  std::vector<Task> take_all();

  const TaskPoolStats& stats() const { return stats_; }
  // The batch just taken runs grouped with other experts' batches.
  void count_grouped() { ++stats_.grouped_batches; }

 private:
  ExpertBackend& backend_;
  TaskKind kind_;
  std::chrono::nanoseconds max_wait_;
  std::deque<Task> tasks_;
  int64_t waiting_rows_ = 0;
  TaskPoolStats stats_;
};

}  // namespace hive::moe
