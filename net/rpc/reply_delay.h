// ReplyDelay: holds every reply for a fixed time before the caller sees it, as if the link added
// that round trip. A userspace stand-in for `tc netem` delay, for experiments on kernels without
// sch_netem (EndpointOptions::emulated_round_trip); off by default.
//
// The request leaves at once and only the reply waits, which is what a caller observes of a link
// with that round trip; the callee sees requests a little earlier than over a real slow link.
// I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>

#include "net/core/status.h"
#include "net/loop/event_loop.h"
#include "net/loop/timer.h"
#include "net/rpc/call.h"

namespace hive::net {

class ReplyDelay {
 public:
  ReplyDelay(EventLoop& loop, std::chrono::milliseconds round_trip);

  // A callback that holds its result for the round trip, then passes it to `done`. `call_id`
  // names it for cancel().
  ReplyCallback hold(uint64_t call_id, ReplyCallback done);
  // Passes call `call_id`'s held result to its caller now, as kCancelled; false when none is held.
  bool cancel(uint64_t call_id);
  // Passes every held result to its caller now as `status` and stops the timer (shutdown).
  void close(const Status& status);

 private:
  struct Held {
    uint64_t call_id;
    std::chrono::steady_clock::time_point due;
    ReplyCallback done;
    Result<Reply> result;
  };

  void deliver_due();
  void arm();

  EventLoop& loop_;
  std::chrono::milliseconds round_trip_;
  // In due order: every reply waits the same time, so arrival order is due order.
  std::deque<Held> held_;
  std::unique_ptr<Timer> timer_;  // made on first use, on the I/O thread
  bool closed_ = false;
};

}  // namespace hive::net
