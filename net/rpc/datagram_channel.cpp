#include "net/rpc/datagram_channel.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "net/core/log.h"
#include "net/loop/uv_error.h"
#include "net/rpc/endpoint.h"
#include "net/wire/frame_reader.h"
#include "net/wire/frame_writer.h"

namespace hive::net {
namespace {

constexpr size_t kMaxUdpPayload = 65507;
constexpr int kUdpReceiveBufferBytes = 4 << 20;
constexpr size_t kMaxStatusMessageBytes = 1024;

// The whole message as one contiguous datagram, or nothing when it does not fit in max_bytes.
std::shared_ptr<std::vector<std::byte>> encode_datagram(FrameHeader header, Message message,
                                                        size_t max_bytes) {
  FrameWriter writer(WriterLimits{max_bytes, UINT64_MAX});
  if (!writer.enqueue(std::move(header), std::move(message)).is_ok()) return nullptr;
  std::optional<OutgoingFrame> frame = writer.next_frame();
  if (!frame || !writer.empty() || frame->bytes > max_bytes) return nullptr;
  auto bytes = std::make_shared<std::vector<std::byte>>();
  bytes->reserve(frame->bytes);
  for (std::span<const std::byte> piece : frame->pieces) bytes->insert(bytes->end(), piece.begin(), piece.end());
  return bytes;
}

struct SendRequest {
  uv_udp_send_t request{};
  std::shared_ptr<std::vector<std::byte>> datagram;
};

}  // namespace

DatagramChannel::DatagramChannel(Endpoint& endpoint)
    : endpoint_(endpoint), receive_buffer_(kMaxUdpPayload + 1) {
  ensure_sodium_initialized();  // call ids are random
}

DatagramChannel::~DatagramChannel() { close(); }

Status DatagramChannel::bind(const SocketAddress& address) {
  int result = make_uv_handle(socket_, [this](uv_udp_t* udp) {
    return uv_udp_init(endpoint_.loop().raw(), udp);
  });
  if (result != 0) return uv_status(result, StatusCode::kUnavailable, "creating the UDP socket");
  result = uv_udp_bind(socket_.get(), address.get(), 0);
  if (result != 0) {
    return uv_status(result, StatusCode::kUnavailable, str_cat("binding UDP to ", address.to_string()));
  }
  // The kernel's default receive buffer (about 200 KiB) overflows when a node has many calls in
  // flight, and every dropped datagram costs a retry a third of a timeout later. The kernel caps
  // the request at net.core.rmem_max, which is fine: this is a hint.
  int receive_buffer_bytes = kUdpReceiveBufferBytes;
  if (int hint = uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(socket_.get()), &receive_buffer_bytes); hint != 0) {
    log(LogLevel::kWarning, "UDP socket on ", address.to_string(), ": could not raise the receive buffer to ",
        kUdpReceiveBufferBytes, " bytes: ", uv_strerror(hint));
  }
  socket_.get()->data = this;
  result = uv_udp_recv_start(
      socket_.get(),
      [](uv_handle_t* handle, size_t, uv_buf_t* buffer) {
        auto* self = static_cast<DatagramChannel*>(handle->data);
        *buffer = uv_buf_init(reinterpret_cast<char*>(self->receive_buffer_.data()),
                              static_cast<unsigned>(self->receive_buffer_.size()));
      },
      [](uv_udp_t* udp, ssize_t nread, const uv_buf_t*, const sockaddr* from, unsigned flags) {
        auto* self = static_cast<DatagramChannel*>(udp->data);
        if (self == nullptr || nread <= 0 || from == nullptr) return;
        if ((flags & UV_UDP_PARTIAL) != 0) {
          ++self->dropped_bad_input_;
          log(LogLevel::kWarning, "dropped a datagram from ", SocketAddress::from_sockaddr(from).to_string(),
              ": larger than ", kMaxUdpPayload, " bytes");
          return;
        }
        auto keepalive = self->shared_from_this();
        self->on_receive(std::span(self->receive_buffer_).first(static_cast<size_t>(nread)), from);
      });
  if (result != 0) return uv_status(result, StatusCode::kUnavailable, "receiving UDP");
  return Status::ok();
}

void DatagramChannel::close() {
  if (closed_) return;
  closed_ = true;
  socket_.close();
  std::vector<uint64_t> calls;
  for (const auto& entry : pending_) calls.push_back(entry.first);
  for (uint64_t call_id : calls) finish(call_id, Status(StatusCode::kUnavailable, "endpoint shutting down"));
}

void DatagramChannel::send(const SocketAddress& to, std::shared_ptr<std::vector<std::byte>> datagram) {
  if (closed_) return;
  auto* request = new SendRequest;
  request->datagram = std::move(datagram);
  uv_buf_t buffer = uv_buf_init(reinterpret_cast<char*>(request->datagram->data()),
                                static_cast<unsigned>(request->datagram->size()));
  request->request.data = request;
  const int result = uv_udp_send(&request->request, socket_.get(), &buffer, 1, to.get(),
                                 [](uv_udp_send_t* sent, int status) {
                                   if (status != 0 && status != UV_ECANCELED) {
                                     log(LogLevel::kDebug, "datagram send failed: ", uv_error_text(status));
                                   }
                                   delete static_cast<SendRequest*>(sent->data);
                                 });
  if (result != 0) {
    // A lost datagram is what retries are for.
    log(LogLevel::kDebug, "datagram to ", to.to_string(), " not sent: ", uv_error_text(result));
    delete request;
  }
}

void DatagramChannel::call(const SocketAddress& to, std::string method, Message request,
                           const CallOptions& options, ReplyCallback done) {
  const uint64_t call_id = unused_call_id();
  FrameHeader header;
  header.kind = FrameKind::kRequest;
  header.call_id = call_id;
  header.method = method;
  header.timeout_ms = static_cast<uint32_t>(std::clamp<int64_t>(options.timeout.count(), 0, UINT32_MAX));
  auto datagram = encode_datagram(header, request, endpoint_.options_.max_datagram_bytes);
  if (!datagram) {
    endpoint_.call(to, std::move(method), std::move(request), options, std::move(done));
    return;
  }
  Pending& pending = pending_[call_id];
  pending.to = to;
  pending.method = std::move(method);
  pending.request = std::move(request);
  pending.options = options;
  pending.done = std::move(done);
  pending.datagram = datagram;
  pending.attempts_left = std::max(1, endpoint_.options_.datagram_attempts);
  pending.started_ms = endpoint_.loop().now_ms();
  const std::chrono::milliseconds interval(std::max<int64_t>(1, options.timeout.count() / pending.attempts_left));
  pending.retry = std::make_unique<Timer>(endpoint_.loop());
  pending.retry->start(interval, interval, [this, call_id] {
    auto keepalive = shared_from_this();
    on_retry(call_id);
  });
  send(to, std::move(datagram));
}

void DatagramChannel::on_retry(uint64_t call_id) {
  auto found = pending_.find(call_id);
  if (found == pending_.end()) return;
  Pending& pending = found->second;
  if (--pending.attempts_left <= 0) {
    finish(call_id, Status(StatusCode::kDeadlineExceeded,
                           str_cat("datagram call '", pending.method, "' to ", pending.to.to_string(),
                                   " got no answer within ", pending.options.timeout.count(), " ms")));
    return;
  }
  send(pending.to, pending.datagram);
}

void DatagramChannel::finish(uint64_t call_id, Result<Reply> result) {
  auto node = pending_.extract(call_id);
  if (node.empty()) return;
  node.mapped().done(std::move(result));
}

void DatagramChannel::repeat_over_tcp(uint64_t call_id) {
  auto node = pending_.extract(call_id);
  if (node.empty()) return;
  Pending& pending = node.mapped();
  const auto elapsed = static_cast<int64_t>(endpoint_.loop().now_ms() - pending.started_ms);
  CallOptions options = pending.options;
  if (elapsed >= options.timeout.count()) {
    pending.done(Status(StatusCode::kDeadlineExceeded,
                        str_cat("datagram call '", pending.method, "' to ", pending.to.to_string(),
                                ": reply too large for a datagram and no time left to repeat it over TCP")));
    return;
  }
  options.timeout -= std::chrono::milliseconds(elapsed);
  endpoint_.call(pending.to, std::move(pending.method), std::move(pending.request), options,
                 std::move(pending.done));
}

void DatagramChannel::on_receive(std::span<const std::byte> datagram, const sockaddr* from_address) {
  const SocketAddress from = SocketAddress::from_sockaddr(from_address);
  auto decoded = decode_datagram(datagram, endpoint_.options_.connection.frame_limits);
  if (!decoded.is_ok()) {
    ++dropped_bad_input_;
    log(LogLevel::kWarning, "dropped a datagram from ", from.to_string(), ": ", decoded.status().to_string());
    return;
  }
  auto& [header, message] = decoded.value();
  if (header.kind == FrameKind::kRequest) {
    on_request(std::move(header), std::move(message), from);
  } else if (header.kind == FrameKind::kResponse) {
    on_response(header, std::move(message), from);
  } else {
    ++dropped_bad_input_;
    log(LogLevel::kWarning, "dropped a ", frame_kind_name(header.kind), " datagram from ", from.to_string());
  }
}

uint64_t DatagramChannel::unused_call_id() {
  // Random ids: a spoofer who cannot see our traffic cannot guess which reply we expect.
  uint64_t call_id = 0;
  do {
    randombytes_buf(&call_id, sizeof(call_id));
  } while (call_id == 0 || pending_.contains(call_id));
  return call_id;
}

void DatagramChannel::send_reply(const SocketAddress& to, uint64_t call_id, Result<Message> reply) {
  if (closed_) return;
  FrameHeader response;
  response.kind = FrameKind::kResponse;
  response.call_id = call_id;
  std::shared_ptr<std::vector<std::byte>> datagram;
  if (reply.is_ok()) {
    datagram = encode_datagram(response, std::move(reply).value(), endpoint_.options_.max_datagram_bytes);
    if (!datagram) {
      response.status_code = static_cast<int32_t>(StatusCode::kReplyTooLarge);
      response.status_message = "reply does not fit in a datagram; repeat over TCP";
    }
  } else {
    response.status_code = static_cast<int32_t>(reply.status().code());
    response.status_message = reply.status().message().substr(0, kMaxStatusMessageBytes);
  }
  if (!datagram) datagram = encode_datagram(response, Message{}, kMaxUdpPayload);
  if (datagram) send(to, std::move(datagram));
}

void DatagramChannel::on_request(FrameHeader header, Message message, const SocketAddress& from) {
  const uint64_t call_id = header.call_id;
  if (serving_ >= endpoint_.options_.connection.max_incoming_calls) {
    send_reply(from, call_id, Status(StatusCode::kOverloaded,
                                     str_cat("serving ", serving_, " datagram calls, the limit")));
    return;
  }
  ++serving_;
  std::weak_ptr<DatagramChannel> weak = weak_from_this();
  auto responder = std::make_shared<Responder>(
      endpoint_.loop(), header.method, [weak, call_id, from](Result<Message> reply) {
        auto self = weak.lock();
        if (!self) return;
        --self->serving_;
        self->send_reply(from, call_id, std::move(reply));
      });
  IncomingCall call{std::move(header.method), std::move(message), PeerInfo{PeerId(), from},
                    Transport::kDatagram, std::chrono::milliseconds(header.timeout_ms),
                    std::move(responder)};
  endpoint_.dispatch(std::move(call));
}

void DatagramChannel::on_response(const FrameHeader& header, Message message, const SocketAddress& from) {
  auto found = pending_.find(header.call_id);
  // Replies from another address than the one called are not the reply (nor trusted).
  if (found == pending_.end() || !(found->second.to == from)) return;
  if (header.status_code == static_cast<int32_t>(StatusCode::kReplyTooLarge)) {
    repeat_over_tcp(header.call_id);
    return;
  }
  if (header.status_code != 0) {
    finish(header.call_id, Status(status_code_from_wire(header.status_code),
                                  str_cat("peer ", from.to_string(), ": ", header.status_message)));
    return;
  }
  finish(header.call_id, Reply{std::move(message), PeerInfo{PeerId(), from}});
}

}  // namespace hive::net
