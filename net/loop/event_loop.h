// The process's I/O thread: one libuv loop that owns every socket, timer and piece of network
// state, so none of it needs a lock. Other threads hand it work through post() (one mutex-guarded
// queue plus uv_async_send; the loop drains the whole queue on each wake-up, since libuv
// coalesces wake-ups) and get results back through futures.
#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "net/core/check.h"

namespace hive::net {

class EventLoop {
 public:
  EventLoop();
  // Runs the tasks still queued, waits until every handle is closed (owners must have closed
  // theirs), joins the thread and checks that the loop closed cleanly.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Thread-safe, also from the I/O thread itself. Runs `task` on the I/O thread, in posting
  // order. Returns false, dropping the task, once the loop is shutting down.
  bool post(std::function<void()> task);

  // Thread-safe. Runs `task` on the I/O thread and returns its result; calling it from the I/O
  // thread itself would deadlock, so that is a checked error.
  template <typename Task>
  auto run_sync(Task&& task) -> std::invoke_result_t<Task&> {
    using R = std::invoke_result_t<Task&>;
    std::packaged_task<R()> packaged(std::forward<Task>(task));
    std::future<R> result = packaged.get_future();
    HIVE_NET_CHECK(!on_loop_thread(), "run_sync() on the I/O thread would wait for itself");
    const bool posted = post([&packaged] { packaged(); });
    HIVE_NET_CHECK(posted, "run_sync() on a stopped EventLoop");
    return result.get();
  }

  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  uv_loop_t* raw() { return &loop_; }
  // Milliseconds of the loop's clock (updated once per loop iteration).
  uint64_t now_ms() const { return uv_now(&loop_); }

 private:
  static void on_async(uv_async_t* async);
  void drain();

  uv_loop_t loop_{};
  uv_async_t* wakeup_ = nullptr;  // freed in its close callback
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hive::net
