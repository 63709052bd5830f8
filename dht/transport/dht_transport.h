// What the DHT needs from a network and from time, as two small interfaces, so that the same
// node code runs over real sockets (EndpointTransport, LoopScheduler) and over the simulated
// network of the 10,000-node tests (OpenDHT's shape: a single-threaded core driven by a
// scheduler and a clock).
//
// Threads: every call and every callback happens on one thread (the I/O thread of a real node,
// the simulation's thread in tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "dht/storage/record.h"
#include "net/core/status.h"
#include "net/transport/socket_address.h"

namespace hive::dht {

// One request as the serving node sees it.
struct DhtRequest {
  Bytes bytes;
  // Where it came from. For a datagram that is the sender's own endpoint (to be trusted over
  // the address it claims); over a stream it is an ephemeral port.
  net::SocketAddress from;
  bool from_own_endpoint = false;
  // Answer exactly once, with the response bytes or an error for the caller.
  std::function<void(net::Result<Bytes>)> respond;
};

class DhtTransport {
 public:
  using ReplyCallback = std::function<void(net::Result<Bytes>)>;
  using RequestHandler = std::function<void(DhtRequest request)>;

  virtual ~DhtTransport() = default;

  // Sends `request` to `method` at `to`; `done` runs exactly once with the reply's bytes or the
  // failure (kDeadlineExceeded after `timeout`, kUnavailable, the callee's error...).
  virtual void call(const net::SocketAddress& to, std::string_view method, Bytes request,
                    std::chrono::milliseconds timeout, ReplyCallback done) = 0;
  // Serves `method` until stop_serving(method).
  virtual void serve(std::string_view method, RequestHandler handler) = 0;
  virtual void stop_serving(std::string_view method) = 0;
};

// Timers and a monotonic clock fine enough to measure round trips on loopback.
class Scheduler {
 public:
  using TaskId = uint64_t;

  virtual ~Scheduler() = default;

  // Runs `task` once, `delay` from now, unless cancelled first. Ids are never reused.
  virtual TaskId after(std::chrono::microseconds delay, std::function<void()> task) = 0;
  // Does nothing for a task that already ran or was cancelled.
  virtual void cancel(TaskId task) = 0;
  virtual std::chrono::microseconds now() const = 0;
};

}  // namespace hive::dht
