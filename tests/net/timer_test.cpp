// Timers on the I/O thread: one-shot, repeating, restarted, stopped, and destroyed from their own
// callback.
#include <chrono>
#include <future>
#include <memory>

#include <gtest/gtest.h>

#include "net/loop/timer.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;

TEST(Timer, OneShotFiresOnceAfterItsDelay) {
  EventLoop loop;
  std::promise<uint64_t> fired;
  uint64_t started = 0;
  std::unique_ptr<Timer> timer;
  loop.run_sync([&] {
    timer = std::make_unique<Timer>(loop);
    started = loop.now_ms();
    timer->start(30ms, 0ms, [&] { fired.set_value(loop.now_ms()); });
  });
  EXPECT_GE(fired.get_future().get() - started, 30u);
  loop.run_sync([&] { timer.reset(); });
}

TEST(Timer, RepeatingTimerFiresUntilStoppedAndMayDestroyItself) {
  EventLoop loop;
  std::promise<int> done;
  int count = 0;
  std::unique_ptr<Timer> timer;
  loop.run_sync([&] {
    timer = std::make_unique<Timer>(loop);
    timer->start(1ms, 1ms, [&] {
      if (++count == 3) {
        timer.reset();  // destroyed inside its own callback
        done.set_value(count);
      }
    });
  });
  EXPECT_EQ(done.get_future().get(), 3);
}

TEST(Timer, StoppedOrRestartedTimerDoesNotRunTheOldCallback) {
  EventLoop loop;
  std::promise<const char*> fired;
  std::unique_ptr<Timer> timer;
  loop.run_sync([&] {
    timer = std::make_unique<Timer>(loop);
    timer->start(1ms, 0ms, [&] { fired.set_value("old"); });
    timer->stop();
    timer->start(5ms, 0ms, [&] { fired.set_value("new"); });
  });
  EXPECT_STREQ(fired.get_future().get(), "new");
  loop.run_sync([&] { timer.reset(); });
}

TEST(EventLoop, PostedTasksRunInOrderOnTheLoopThread) {
  EventLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) {
    loop.post([&, i] {
      EXPECT_TRUE(loop.on_loop_thread());
      order.push_back(i);
    });
  }
  const size_t seen = loop.run_sync([&] { return order.size(); });
  EXPECT_EQ(seen, 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

}  // namespace
}  // namespace hive::net
