// Where the replies of a batch's expert calls meet the thread that waits for them: callbacks
// (on the I/O thread) push, the trainer's thread pops with a deadline. Held by shared_ptr in
// every callback, so replies that arrive after the trainer stopped waiting land here harmlessly.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "moe/client/remote_expert.h"

namespace hive::moe {

// One expert call's reply, tagged with the call's index in its batch.
struct CallCompletion {
  size_t call = 0;
  ExpertReply reply;
};

// What is left of a batch's time budget, as a call timeout (at least 1 ms: a call must have
// some timeout, and one that cannot make it fails on its own).
inline std::chrono::milliseconds remaining_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

template <typename T>
class CompletionQueue {
 public:
  void push(T item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }

  // The oldest item, or nullopt once `deadline` passes with none.
  std::optional<T> pop_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_until(lock, deadline, [&] { return !items_.empty(); })) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
};

}  // namespace hive::moe
