#include "moe/server/task_pool.h"

#include <algorithm>

namespace hive::moe {

const char* task_kind_name(TaskKind kind) {
  return kind == TaskKind::kForward ? "forward" : "backward";
}

TaskPool::TaskPool(ExpertBackend& backend, TaskKind kind, std::chrono::nanoseconds max_wait)
    : backend_(backend), kind_(kind), max_wait_(max_wait) {
  HIVE_REQUIRE(max_wait >= std::chrono::nanoseconds::zero(), "task pool of expert ",
               backend.uid(), ": max wait of ", max_wait.count(), " ns must not be negative");
}

net::Status TaskPool::add(Task task) {
  if (task.rows <= 0 || task.rows > max_batch_rows()) {
    return net::Status(net::StatusCode::kInvalidArgument,
                       hive::str_cat("expert ", backend_.uid(), ": ", task_kind_name(kind_),
                                     " call of ", task.rows, " rows (dimension 0), expected 1 to ",
                                     max_batch_rows(), " (the max batch size)"));
  }
  waiting_rows_ += task.rows;
  tasks_.push_back(std::move(task));
  return net::Status::ok();
}

TaskPool::Clock::time_point TaskPool::ready_at() const {
  // Full once the waiting rows reach a batch: the batch taken first cannot grow any more.
  if (waiting_rows_ >= max_batch_rows()) return oldest_arrival();
  return oldest_arrival() + std::chrono::duration_cast<Clock::duration>(max_wait_);
}

std::vector<Task> TaskPool::take_batch(int64_t max_rows) {
  max_rows = std::min(max_rows, max_batch_rows());
  std::vector<Task> batch;
  int64_t rows = 0;
  while (!tasks_.empty() && rows + tasks_.front().rows <= max_rows) {
    rows += tasks_.front().rows;
    batch.push_back(std::move(tasks_.front()));
    tasks_.pop_front();
  }
  waiting_rows_ -= rows;
  ++stats_.batches;
  stats_.tasks += batch.size();
  stats_.rows += static_cast<uint64_t>(rows);
  stats_.largest_batch_tasks = std::max<uint64_t>(stats_.largest_batch_tasks, batch.size());
  return batch;
}

std::vector<Task> TaskPool::take_all() {
  std::vector<Task> all(std::make_move_iterator(tasks_.begin()),
                        std::make_move_iterator(tasks_.end()));
  tasks_.clear();
  waiting_rows_ = 0;
  return all;
}

}  // namespace hive::moe
