// Virtual time for the DHT simulation: one queue of events ordered by (time, sequence number),
// so a run with the same seed replays exactly. It is the Scheduler that every simulated node
// shares and the source of the ManualClock they read (the clock's start plus virtual time).
// Time moves only when the queue is run; nothing here sleeps.
// Single-threaded: the simulation's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_set>
#include <vector>

#include "dht/core/dht_time.h"
#include "dht/transport/dht_transport.h"

namespace hive::dht::sim {

class VirtualTime final : public Scheduler {
 public:
  // `start` is the clock's reading (ms since the epoch) at virtual time 0.
  explicit VirtualTime(DhtTime start) : start_(start), clock_(start) {}

  // Scheduler: tasks that may be cancelled.
  TaskId after(std::chrono::microseconds delay, std::function<void()> task) override;
  void cancel(TaskId task) override;
  std::chrono::microseconds now() const override { return now_; }

  // An event that is never cancelled (a datagram's arrival, a retry): cheaper than after().
  void post(std::chrono::microseconds delay, std::function<void()> event);

  const Clock& clock() const { return clock_; }

  // Runs every event due up to `until`, then leaves the time at `until`.
  void run_until(std::chrono::microseconds until);
  // Runs events until `done()` holds (checked after each event) or the next event is later than
  // `until`. Returns done(); the time is left at the last event run (at `until` on a timeout).
  bool run_until(std::chrono::microseconds until, const std::function<bool()>& done);

  uint64_t events_run() const { return events_run_; }
  size_t events_pending() const { return queue_.size(); }

 private:
  struct Event {
    std::chrono::microseconds at;
    uint64_t sequence;  // ties at one time run in the order they were scheduled
    bool cancellable;
    std::function<void()> task;
  };
  // std::push_heap keeps the greatest on top: "greater" is the one due later.
  static bool due_later(const Event& a, const Event& b) {
    return a.at != b.at ? a.at > b.at : a.sequence > b.sequence;
  }

  void push(std::chrono::microseconds delay, bool cancellable, std::function<void()> task);
  // Pops and runs the earliest event; false when the queue is empty or it is later than `until`.
  bool run_next(std::chrono::microseconds until);
  void advance_to(std::chrono::microseconds at);

  DhtTime start_;
  ManualClock clock_;
  std::chrono::microseconds now_{0};
  uint64_t next_sequence_ = 1;  // also the TaskId of a cancellable event: never reused
  std::vector<Event> queue_;    // a binary heap by due_later
  std::unordered_set<TaskId> scheduled_;  // cancellable events neither run nor cancelled yet
  uint64_t events_run_ = 0;
};

}  // namespace hive::dht::sim
