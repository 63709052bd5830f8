// One TCP connection between two endpoints: the identity handshake, then calls in both
// directions, many at once, each with its call id and deadline. Lives on the I/O thread only.
// Owned by shared_ptr: the endpoint's tables, and each write in flight, hold it.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/identity/handshake.h"
#include "net/loop/event_loop.h"
#include "net/loop/timer.h"
#include "net/loop/uv_handle.h"
#include "net/rpc/call.h"
#include "net/wire/frame_reader.h"
#include "net/wire/frame_writer.h"

namespace hive::net {

struct ConnectionOptions {
  FrameLimits frame_limits;
  WriterLimits writer_limits;
  std::chrono::milliseconds handshake_timeout{5000};
  // A connection with no calls either way and no traffic for this long is closed.
  std::chrono::milliseconds idle_timeout{60000};
  // A peer that stops mid-frame (or mid-message), or stops reading what this side sends, for
  // this long is cut off. (Links slower than ~50 KB/s may need more: writes go in 1 MiB steps.)
  std::chrono::milliseconds stall_timeout{20000};
  uint32_t max_incoming_calls = 4096;  // calls being served at once; more get kOverloaded
};

// What the connection counts into, owned by its endpoint.
struct ConnectionCounters {
  uint64_t connections_rejected_bad_input = 0;
  uint64_t connections_rejected_handshake = 0;
  uint64_t connections_stalled = 0;
};

class Connection : public std::enable_shared_from_this<Connection>, private FrameReader::Sink {
 public:
  enum class Side { kOutbound, kInbound };
  struct Hooks {
    std::function<void(IncomingCall)> dispatch;                 // a request, after the handshake
    std::function<void(Connection&)> on_closed;                 // remove it from the tables
    ConnectionCounters* counters = nullptr;
    std::shared_ptr<FrameReader::ReceiveBudget> receive_budget;  // shared by the endpoint
  };

  Connection(EventLoop& loop, const Identity& identity, const ConnectionOptions& options,
             Hooks hooks, Side side, SocketAddress remote);
  ~Connection() override;

  void connect();
  // Takes over an accepted socket.
  void adopt(UvHandle<uv_tcp_t> socket);

  // Sends a request once the handshake is done; `done` runs exactly once.
  void call(uint64_t call_id, std::string method, Message request, const CallOptions& options,
            ReplyCallback done);
  // Fails the call with kCancelled (if still pending) and tells the callee.
  void cancel(uint64_t call_id);
  // Fails every pending call with `reason` and closes the socket. Idempotent.
  void close(const Status& reason);

  bool closed() const { return state_ == State::kClosed; }
  const SocketAddress& remote() const { return remote_; }
  const PeerId& peer_id() const { return peer_id_; }
  size_t pending_calls() const { return pending_.size(); }

 private:
  enum class State { kConnecting, kHandshaking, kReady, kClosed };
  struct PendingCall {
    std::string method;
    std::optional<PeerId> expected_peer;
    ReplyCallback done;
    uint64_t deadline_ms = 0;  // on the loop's clock
    std::chrono::milliseconds timeout{0};
    // Held until the handshake is done.
    std::optional<std::pair<FrameHeader, Message>> unsent;
  };
  struct ConnectRequest;
  struct WriteRequest;

  void on_socket_ready();
  bool start_reading();
  void apply_backpressure();
  void start_timers();
  void on_tick();
  void send_hello();
  void on_control(FrameHeader header) override;
  void on_message(FrameHeader header, Message message) override;
  void on_hello(const FrameHeader& header);
  void on_proof(const FrameHeader& header);
  void on_request(FrameHeader header, Message message);
  void on_response(FrameHeader header, Message message);
  void arm_deadline_timer();
  void on_deadline_timer();
  void on_deadline(uint64_t call_id);
  void send_cancel(uint64_t call_id);
  // Sends a call once the peer is known: fails it instead when another peer than the expected
  // one answered the handshake.
  void send_request(uint64_t call_id, PendingCall& call);
  void send_response(uint64_t call_id, Result<Message> reply);
  void finish_call(uint64_t call_id, Result<Reply> result);
  void fail_bad_input(const Status& status);
  void pump_writes();
  bool write_fully_at_once(WriteRequest& request);
  void on_write_done(WriteRequest* request, int status);
  void on_read(ssize_t nread);

  EventLoop& loop_;
  const Identity& identity_;
  const ConnectionOptions& options_;
  Hooks hooks_;
  Side side_;
  SocketAddress remote_;
  State state_ = State::kConnecting;
  Status close_reason_;
  UvHandle<uv_tcp_t> socket_;
  Timer ticker_;
  // One timer for all calls' deadlines: armed for the earliest (a timer per call would cost
  // a handle, two allocations and heap updates on every call).
  Timer deadline_timer_;
  std::set<std::pair<uint64_t, uint64_t>> deadlines_;  // (deadline_ms, call id)
  uint64_t armed_deadline_ms_ = UINT64_MAX;
  FrameReader reader_;
  FrameWriter writer_;
  uint64_t bytes_in_flight_ = 0;
  uint64_t created_ms_ = 0;
  uint64_t last_read_ms_ = 0;
  uint64_t last_progress_ms_ = 0;  // last time a message was completed
  uint64_t last_write_progress_ms_ = 0;
  bool reading_ = false;

  Nonce own_nonce_{};
  std::optional<HelloFields> peer_hello_;
  PeerId peer_id_;

  std::unordered_map<uint64_t, PendingCall> pending_;
  std::unordered_map<uint64_t, std::weak_ptr<Responder>> serving_;
};

}  // namespace hive::net
