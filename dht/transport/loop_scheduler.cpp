#include "dht/transport/loop_scheduler.h"

#include <uv.h>

#include <algorithm>

namespace hive::dht {

Scheduler::TaskId LoopScheduler::after(std::chrono::microseconds delay, std::function<void()> task) {
  const TaskId id = next_id_++;
  const std::chrono::microseconds deadline = now() + std::max(delay, std::chrono::microseconds(0));
  tasks_.emplace(Deadline{deadline, id}, std::move(task));
  deadlines_.emplace(id, deadline);
  if (!running_due_ && deadline < armed_for_) arm();
  return id;
}

void LoopScheduler::cancel(TaskId task) {
  auto found = deadlines_.find(task);
  if (found == deadlines_.end()) return;
  tasks_.erase(Deadline{found->second, task});
  deadlines_.erase(found);
  // The timer may stay armed for the cancelled deadline: firing early with nothing due is cheap.
}

std::chrono::microseconds LoopScheduler::now() const {
  return std::chrono::microseconds(uv_hrtime() / 1000);
}

void LoopScheduler::arm() {
  if (tasks_.empty()) {
    timer_.stop();
    armed_for_ = std::chrono::microseconds::max();
    return;
  }
  armed_for_ = tasks_.begin()->first.first;
  const auto wait = std::max(armed_for_ - now(), std::chrono::microseconds(0));
  // Round up: a timer that fires before the deadline would only re-arm itself.
  const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wait);
  timer_.start(wait_ms, std::chrono::milliseconds(0), [this] { run_due(); });
}

void LoopScheduler::run_due() {
  running_due_ = true;
  const std::chrono::microseconds current = now();
  // Tasks may schedule or cancel others: take each out of the queue before running it.
  while (!tasks_.empty() && tasks_.begin()->first.first <= current) {
    auto due = tasks_.begin();
    std::function<void()> task = std::move(due->second);
    deadlines_.erase(due->first.second);
    tasks_.erase(due);
    task();
  }
  running_due_ = false;
  arm();
}

}  // namespace hive::dht
