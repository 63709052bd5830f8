#include "tests/dht/sim/virtual_time.h"

#include <algorithm>
#include <utility>

namespace hive::dht::sim {

Scheduler::TaskId VirtualTime::after(std::chrono::microseconds delay, std::function<void()> task) {
  const TaskId id = next_sequence_;
  scheduled_.insert(id);
  push(delay, true, std::move(task));
  return id;
}

void VirtualTime::cancel(TaskId task) {
  // The event stays in the heap and is skipped when it comes up.
  scheduled_.erase(task);
}

void VirtualTime::post(std::chrono::microseconds delay, std::function<void()> event) {
  push(delay, false, std::move(event));
}

void VirtualTime::push(std::chrono::microseconds delay, bool cancellable, std::function<void()> task) {
  const std::chrono::microseconds at = now_ + std::max(delay, std::chrono::microseconds(0));
  queue_.push_back(Event{at, next_sequence_++, cancellable, std::move(task)});
  std::push_heap(queue_.begin(), queue_.end(), due_later);
}

bool VirtualTime::run_next(std::chrono::microseconds until) {
  while (!queue_.empty() && queue_.front().at <= until) {
    std::pop_heap(queue_.begin(), queue_.end(), due_later);
    Event event = std::move(queue_.back());
    queue_.pop_back();
    if (event.cancellable && scheduled_.erase(event.sequence) == 0) continue;  // cancelled
    advance_to(event.at);
    ++events_run_;
    event.task();
    return true;
  }
  return false;
}

void VirtualTime::advance_to(std::chrono::microseconds at) {
  now_ = at;
  clock_.set(start_ + std::chrono::duration_cast<std::chrono::milliseconds>(now_).count());
}

void VirtualTime::run_until(std::chrono::microseconds until) {
  while (run_next(until)) {
  }
  if (until > now_) advance_to(until);
}

bool VirtualTime::run_until(std::chrono::microseconds until, const std::function<bool()>& done) {
  while (!done()) {
    if (!run_next(until)) {
      if (until > now_) advance_to(until);
      return done();
    }
  }
  return true;
}

}  // namespace hive::dht::sim
