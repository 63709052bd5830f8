#include "net/loop/event_loop.h"

#include "net/loop/uv_error.h"

namespace hive::net {

EventLoop::EventLoop() {
  HIVE_UV_CHECK(uv_loop_init(&loop_));
  wakeup_ = new uv_async_t;
  HIVE_UV_CHECK(uv_async_init(&loop_, wakeup_, &EventLoop::on_async));
  wakeup_->data = this;
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

EventLoop::~EventLoop() {
  HIVE_NET_CHECK(!on_loop_thread(), "an EventLoop cannot be destroyed from its own thread");
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    HIVE_UV_CHECK(uv_async_send(wakeup_));
  }
  thread_.join();
  // Every handle is closed by now, so closing the loop succeeds unless a handle leaked.
  const int closed = uv_loop_close(&loop_);
  HIVE_NET_CHECK(closed == 0, "libuv loop still has open handles at shutdown: ",
                 uv_error_text(closed));
}

bool EventLoop::post(std::function<void()> task) {
  // The wake-up is sent under the lock: once drain() has seen stopping_ (under the same lock)
  // and closed the async handle, no thread can still be about to touch it.
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  queue_.push_back(std::move(task));
  HIVE_UV_CHECK(uv_async_send(wakeup_));
  return true;
}

void EventLoop::on_async(uv_async_t* async) { static_cast<EventLoop*>(async->data)->drain(); }

void EventLoop::drain() {
  std::vector<std::function<void()>> tasks;
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(queue_);
    stopping = stopping_;
  }
  for (auto& task : tasks) task();
  if (stopping) {
    std::lock_guard lock(mutex_);
    HIVE_NET_CHECK(queue_.empty(), "tasks posted while the EventLoop shut down");
    uv_close(reinterpret_cast<uv_handle_t*>(wakeup_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
    // Owners close their handles before the loop goes; one left open would keep uv_run (and
    // the join in the destructor) waiting forever, so it is reported as the bug it is.
    uv_walk(&loop_, [](uv_handle_t* handle, void*) {
      HIVE_NET_CHECK(uv_is_closing(handle), "a ", uv_handle_type_name(handle->type),
                     " handle is still open when its EventLoop shuts down");
    }, nullptr);
  }
}

}  // namespace hive::net
