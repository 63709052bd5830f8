#include "net/loop/event_loop.h"
#include "net/rpc/call.h"

namespace hive::net {

Responder::Responder(EventLoop& loop, std::string method, Deliver deliver)
    : loop_(loop), method_(std::move(method)), deliver_(std::move(deliver)) {}

Responder::~Responder() {
  if (answered()) return;  // the usual case: no need to build the message below
  try_respond(Status(StatusCode::kInternal,
                     str_cat("the handler of '", method_, "' dropped the call without answering")));
}

void Responder::set_on_cancel(std::function<void()> on_cancel) {
  if (cancelled()) {
    on_cancel();
    return;
  }
  on_cancel_ = std::move(on_cancel);
}

void Responder::mark_cancelled() {
  if (cancelled_.exchange(true)) return;
  if (on_cancel_) std::exchange(on_cancel_, nullptr)();
}

void Responder::respond(Result<Message> reply) {
  const bool taken = try_respond(std::move(reply));
  HIVE_NET_CHECK(taken, "second answer to one call of '", method_, "'");
}

bool Responder::try_respond(Result<Message> reply) {
  if (responded_.exchange(true)) return false;
  if (loop_.on_loop_thread()) {
    on_cancel_ = nullptr;
    deliver_(std::move(reply));
    return true;
  }
  // A loop that is shutting down has already failed the call on the caller's side.
  loop_.post([deliver = std::move(deliver_), reply = std::move(reply)]() mutable {
    deliver(std::move(reply));
  });
  return true;
}

}  // namespace hive::net
