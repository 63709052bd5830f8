#include "net/loop/timer.h"

#include <algorithm>

#include "net/loop/uv_error.h"

namespace hive::net {

Timer::Timer(EventLoop& loop) {
  HIVE_NET_CHECK(loop.on_loop_thread(), "a Timer is created on the I/O thread");
  HIVE_UV_CHECK(make_uv_handle(handle_, [&loop](uv_timer_t* timer) { return uv_timer_init(loop.raw(), timer); }));
  handle_.get()->data = this;
}

void Timer::start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat,
                  std::function<void()> callback) {
  callback_ = std::move(callback);
  const auto milliseconds = [](std::chrono::milliseconds value) {
    return static_cast<uint64_t>(std::max<int64_t>(0, value.count()));
  };
  HIVE_UV_CHECK(uv_timer_start(handle_.get(), [](uv_timer_t* timer) {
    auto* self = static_cast<Timer*>(timer->data);
    if (self == nullptr) return;
    // A copy: the callback may destroy this timer (a call's deadline ends the call that owns it).
    std::function<void()> scheduled = self->callback_;
    scheduled();
  }, milliseconds(delay), milliseconds(repeat)));
}

void Timer::stop() { HIVE_UV_CHECK(uv_timer_stop(handle_.get())); }

}  // namespace hive::net
