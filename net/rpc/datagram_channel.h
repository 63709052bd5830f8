// Datagram RPC over the endpoint's UDP socket: small calls without a connection (the DHT's
// traffic). A request is one datagram, retried evenly over the call's timeout; replies are
// matched by call id and sender address. Datagrams carry no proof of identity. A request or a
// reply that does not fit in one datagram moves to TCP. Handlers may see a retried request
// twice, so methods served over datagrams must be idempotent.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <vector>

#include "net/loop/timer.h"
#include "net/loop/uv_handle.h"
#include "net/rpc/call.h"
#include "net/wire/frame.h"
#include "net/wire/message.h"

namespace hive::net {

class Endpoint;

class DatagramChannel : public std::enable_shared_from_this<DatagramChannel> {
 public:
  explicit DatagramChannel(Endpoint& endpoint);
  ~DatagramChannel();

  Status bind(const SocketAddress& address);
  void call(const SocketAddress& to, std::string method, Message request,
            const CallOptions& options, ReplyCallback done);
  // Fails pending calls ("endpoint shutting down") and closes the socket.
  void close();
  uint64_t dropped_bad_input() const { return dropped_bad_input_; }

 private:
  struct Pending {
    SocketAddress to;
    std::string method;
    Message request;
    CallOptions options;
    ReplyCallback done;
    std::shared_ptr<std::vector<std::byte>> datagram;
    std::unique_ptr<Timer> retry;
    int attempts_left = 0;
    uint64_t started_ms = 0;
  };

  uint64_t unused_call_id();
  void send(const SocketAddress& to, std::shared_ptr<std::vector<std::byte>> datagram);
  void on_receive(std::span<const std::byte> datagram, const sockaddr* from);
  // An answer, an error, or "reply too large" when the answer does not fit in one datagram.
  void send_reply(const SocketAddress& to, uint64_t call_id, Result<Message> reply);
  void on_request(FrameHeader header, Message message, const SocketAddress& from);
  void on_response(const FrameHeader& header, Message message, const SocketAddress& from);
  void on_retry(uint64_t call_id);
  void finish(uint64_t call_id, Result<Reply> result);
  void repeat_over_tcp(uint64_t call_id);

  Endpoint& endpoint_;
  UvHandle<uv_udp_t> socket_;
  std::vector<std::byte> receive_buffer_;
  std::map<uint64_t, Pending> pending_;
  uint64_t serving_ = 0;  // requests whose handlers have not answered yet
  uint64_t dropped_bad_input_ = 0;
  bool closed_ = false;
};

}  // namespace hive::net
