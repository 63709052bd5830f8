// A node's RPC endpoint: serves registered methods over TCP and UDP on one port and calls other
// endpoints. Outgoing TCP connections are pooled per address and reused by every call to it.
//
// Threads: everything runs on the EventLoop's I/O thread. The *_async and run_sync-based
// members are safe from any thread; the others must be called on the I/O thread.
#pragma once

#include <uv.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/loop/uv_handle.h"
#include "net/rpc/call.h"
#include "net/rpc/connection.h"
#include "net/rpc/reply_delay.h"

namespace hive::net {

class DatagramChannel;

struct EndpointOptions {
  ConnectionOptions connection;
  // Datagram calls: requests and replies up to this size go over UDP; larger ones over TCP.
  size_t max_datagram_bytes = 8192;
  // A datagram call is sent this many times, evenly over its timeout, before it fails.
  int datagram_attempts = 3;
  // Accepted connections beyond this are closed at once.
  size_t max_inbound_connections = 4096;
  // Payload bytes arriving over all connections at once.
  uint64_t max_receive_bytes = 4ull << 30;
  // Experiments: every reply to this endpoint's calls (TCP and datagram) reaches the caller this
  // much later, as over a link with this extra round trip (see reply_delay.h). 0: off.
  std::chrono::milliseconds emulated_round_trip{0};
};

struct EndpointStats {
  uint64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_refused_over_limit = 0;
  uint64_t connections_rejected_bad_input = 0;
  uint64_t connections_rejected_handshake = 0;
  uint64_t connections_stalled = 0;
  uint64_t datagrams_dropped_bad_input = 0;
  uint64_t calls_started = 0;
  uint64_t calls_served = 0;
};

// Identifies a call for cancel().
struct CallHandle {
  uint64_t id = 0;
};

class Endpoint {
 public:
  Endpoint(EventLoop& loop, Identity identity, EndpointOptions options = {});
  // Shuts down (see shutdown()) if that has not happened yet.
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Any thread. Listens for TCP and UDP on `address` ("127.0.0.1:0" picks a free port, the same
  // for both) and returns the address bound.
  Result<SocketAddress> listen(std::string_view address);
  // Any thread. Handlers may be added while serving; a method without one answers kNotFound.
  void register_handler(std::string method, Handler handler);
  // Any thread. Calls of `method` answer kNotFound from now on.
  void unregister_handler(const std::string& method);

  // I/O thread. `done` runs exactly once, on the I/O thread.
  CallHandle call(const SocketAddress& to, std::string method, Message request,
                  const CallOptions& options, ReplyCallback done);
  // I/O thread. A call over UDP, retried within its timeout; a reply too large for a datagram
  // makes it repeat over TCP (as DNS does); so does a request too large for one.
  void call_datagram(const SocketAddress& to, std::string method, Message request,
                     const CallOptions& options, ReplyCallback done);
  // I/O thread. The call fails with kCancelled at once; the callee is told.
  void cancel(CallHandle call);

  // Any thread.
  std::future<Result<Reply>> call_async(const SocketAddress& to, std::string method,
                                        Message request, CallOptions options = {});
  std::future<Result<Reply>> call_datagram_async(const SocketAddress& to, std::string method,
                                                 Message request, CallOptions options = {});
  EndpointStats stats();

  // Any thread. Stops listening, fails every pending call with kUnavailable ("endpoint shutting
  // down"), cancels calls being served and closes every connection. Idempotent.
  void shutdown();

  const Identity& identity() const { return identity_; }
  EventLoop& loop() { return loop_; }

 private:
  friend class DatagramChannel;
  void on_accept(int status);
  void dispatch(IncomingCall call);
  std::shared_ptr<Connection> connection_to(const SocketAddress& to);
  Connection::Hooks hooks();
  void shutdown_on_loop();

  EventLoop& loop_;
  Identity identity_;
  EndpointOptions options_;
  bool shut_down_ = false;
  UvHandle<uv_tcp_t> listener_;
  std::shared_ptr<DatagramChannel> datagrams_;
  std::unordered_map<std::string, Handler> handlers_;
  std::map<SocketAddress, std::shared_ptr<Connection>> outbound_;
  std::unordered_set<std::shared_ptr<Connection>> inbound_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> calls_;
  uint64_t next_call_id_ = 1;
  ConnectionCounters counters_;
  std::shared_ptr<FrameReader::ReceiveBudget> receive_budget_;
  std::unique_ptr<ReplyDelay> reply_delay_;  // only with options_.emulated_round_trip
  EndpointStats stats_;
};

}  // namespace hive::net
