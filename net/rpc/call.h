// The types of an RPC call, for callers and for handlers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/core/status.h"
#include "net/identity/identity.h"
#include "net/transport/socket_address.h"
#include "net/wire/message.h"

namespace hive::net {

class EventLoop;

struct CallOptions {
  // Counted from the call, including connecting and the handshake.
  std::chrono::milliseconds timeout{3000};
  // When set, the call fails with kUnauthenticated unless this peer answers.
  std::optional<PeerId> expected_peer;
};

struct PeerInfo {
  PeerId id;  // zero for datagrams: they carry no proof of identity
  SocketAddress address;
};

struct Reply {
  Message message;
  PeerInfo peer;
};

// Runs on the I/O thread, exactly once per call.
using ReplyCallback = std::function<void(Result<Reply>)>;

enum class Transport : uint8_t { kTcp, kDatagram };

// The callee's side of one call: answer exactly once, from any thread. A responder dropped
// without an answer answers kInternal, so a caller is never left waiting for a lost reply.
class Responder {
 public:
  using Deliver = std::function<void(Result<Message>)>;
  Responder(EventLoop& loop, std::string method, Deliver deliver);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void respond(Result<Message> reply);
  // Answers unless an answer was given already; says whether this one was taken.
  bool try_respond(Result<Message> reply);
  bool answered() const { return responded_.load(); }
  // Set when the caller cancelled the call or went away: work on it may stop.
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // I/O thread. Runs `on_cancel` (on the I/O thread) when the call is cancelled; at once when
  // it already is. It must not hold the responder itself (that would keep it alive forever).
  void set_on_cancel(std::function<void()> on_cancel);
  // I/O thread: the connection's side of cancellation.
  void mark_cancelled();

 private:
  EventLoop& loop_;
  std::string method_;
  Deliver deliver_;  // runs on the I/O thread
  std::function<void()> on_cancel_;  // I/O thread only
  std::atomic<bool> responded_{false};
  std::atomic<bool> cancelled_{false};
};

struct IncomingCall {
  std::string method;
  Message request;
  PeerInfo peer;
  Transport transport = Transport::kTcp;
  std::chrono::milliseconds timeout{0};  // the caller's remaining budget (0: none given)
  std::shared_ptr<Responder> responder;
};

// Runs on the I/O thread and must not block: long work goes to another thread, which answers
// through the responder.
using Handler = std::function<void(IncomingCall call)>;

}  // namespace hive::net
