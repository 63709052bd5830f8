#include "net/rpc/reply_delay.h"

#include <algorithm>
#include <utility>

namespace hive::net {

ReplyDelay::ReplyDelay(EventLoop& loop, std::chrono::milliseconds round_trip)
    : loop_(loop), round_trip_(round_trip) {}

ReplyCallback ReplyDelay::hold(uint64_t call_id, ReplyCallback done) {
  return [this, call_id, done = std::move(done)](Result<Reply> result) mutable {
    if (closed_) {
      done(std::move(result));
      return;
    }
    held_.push_back(Held{call_id, std::chrono::steady_clock::now() + round_trip_, std::move(done),
                         std::move(result)});
    if (held_.size() == 1) arm();
  };
}

bool ReplyDelay::cancel(uint64_t call_id) {
  const auto found = std::find_if(held_.begin(), held_.end(),
                                  [call_id](const Held& held) { return held.call_id == call_id; });
  if (found == held_.end()) return false;
  ReplyCallback done = std::move(found->done);
  held_.erase(found);
  done(Status(StatusCode::kCancelled, "call cancelled"));
  return true;
}

void ReplyDelay::close(const Status& status) {
  closed_ = true;
  timer_.reset();
  // Callers may start new calls from their callbacks; those now skip the queue (closed_).
  while (!held_.empty()) {
    Held next = std::move(held_.front());
    held_.pop_front();
    next.done(status);
  }
}

void ReplyDelay::deliver_due() {
  const auto now = std::chrono::steady_clock::now();
  while (!held_.empty() && held_.front().due <= now) {
    Held next = std::move(held_.front());
    held_.pop_front();
    next.done(std::move(next.result));
  }
  arm();
}

void ReplyDelay::arm() {
  if (held_.empty() || closed_) return;
  if (!timer_) timer_ = std::make_unique<Timer>(loop_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(held_.front().due -
                                                                 std::chrono::steady_clock::now());
  timer_->start(std::max(wait, std::chrono::milliseconds(0)), std::chrono::milliseconds(0),
                [this] { deliver_due(); });
}

}  // namespace hive::net
