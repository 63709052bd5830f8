// Scheduler on a net::EventLoop: every task waits in one ordered queue behind a single libuv
// timer armed for the earliest deadline, so a node with thousands of pending timeouts holds one
// handle. Timers fire with the loop's millisecond granularity; now() is uv_hrtime.
// I/O thread only, from construction to destruction.
#pragma once

#include <map>
#include <utility>

#include "dht/transport/dht_transport.h"
#include "net/loop/event_loop.h"
#include "net/loop/timer.h"

namespace hive::dht {

class LoopScheduler final : public Scheduler {
 public:
  explicit LoopScheduler(net::EventLoop& loop) : timer_(loop) {}

  TaskId after(std::chrono::microseconds delay, std::function<void()> task) override;
  void cancel(TaskId task) override;
  std::chrono::microseconds now() const override;

 private:
  using Deadline = std::pair<std::chrono::microseconds, TaskId>;

  void arm();
  void run_due();

  net::Timer timer_;
  std::map<Deadline, std::function<void()>> tasks_;
  std::map<TaskId, std::chrono::microseconds> deadlines_;
  TaskId next_id_ = 1;
  std::chrono::microseconds armed_for_ = std::chrono::microseconds::max();
  bool running_due_ = false;  // after() leaves arming to the end of run_due()
};

}  // namespace hive::dht
