// A libuv timer on the I/O thread: one-shot or repeating, stopped (and never fired again) when
// destroyed. Create, start, stop and destroy it on the I/O thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "net/loop/event_loop.h"
#include "net/loop/uv_handle.h"

namespace hive::net {

class Timer {
 public:
  explicit Timer(EventLoop& loop);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Runs `callback` after `delay`, then every `repeat` when it is non-zero. Restarting replaces
  // the previous schedule and callback.
  void start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat,
             std::function<void()> callback);
  void stop();

 private:
  UvHandle<uv_timer_t> handle_;
  std::function<void()> callback_;
};

}  // namespace hive::net
