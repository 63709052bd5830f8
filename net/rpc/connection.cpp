#include "net/rpc/connection.h"

#include <algorithm>

#include "net/core/log.h"
#include "net/loop/uv_error.h"

namespace hive::net {
namespace {

// Bytes handed to the kernel but not yet confirmed written: enough to keep a fast link busy,
// small enough that a new call's frames get their turn quickly.
constexpr uint64_t kMaxBytesInFlight = 16ull << 20;
constexpr uint64_t kMaxBytesPerWrite = 1ull << 20;
constexpr size_t kMaxPiecesPerWrite = 512;
constexpr size_t kMaxStatusMessageBytes = 4096;

Connection* connection_of(uv_handle_t* handle) { return static_cast<Connection*>(handle->data); }

}  // namespace

struct Connection::ConnectRequest {
  uv_connect_t request{};
  std::shared_ptr<Connection> connection;
};

struct Connection::WriteRequest {
  uv_write_t request{};
  std::vector<OutgoingFrame> frames;
  std::vector<uv_buf_t> buffers;
  uint64_t bytes = 0;
  std::shared_ptr<Connection> connection;
};

Connection::Connection(EventLoop& loop, const Identity& identity, const ConnectionOptions& options,
                       Hooks hooks, Side side, SocketAddress remote)
    : loop_(loop),
      identity_(identity),
      options_(options),
      hooks_(std::move(hooks)),
      side_(side),
      remote_(std::move(remote)),
      ticker_(loop),
      deadline_timer_(loop),
      reader_(options.frame_limits, FrameReader::Admission::kControlFramesOnly, hooks_.receive_budget),
      writer_(options.writer_limits) {
  created_ms_ = last_read_ms_ = last_progress_ms_ = loop_.now_ms();
}

Connection::~Connection() {
  HIVE_NET_CHECK(state_ == State::kClosed, "connection to ", remote_.to_string(),
                 " destroyed while open");
}

void Connection::connect() {
  HIVE_NET_CHECK(side_ == Side::kOutbound, "connect() on an accepted connection");
  const int init = make_uv_handle(socket_, [this](uv_tcp_t* tcp) { return uv_tcp_init(loop_.raw(), tcp); });
  if (init != 0) {
    close(uv_status(init, StatusCode::kUnavailable, "creating a TCP socket"));
    return;
  }
  socket_.get()->data = this;
  start_timers();
  auto* request = new ConnectRequest;
  request->connection = shared_from_this();
  request->request.data = request;
  const int started = uv_tcp_connect(&request->request, socket_.get(), remote_.get(),
                                     [](uv_connect_t* connect, int status) {
    std::unique_ptr<ConnectRequest> done(static_cast<ConnectRequest*>(connect->data));
    Connection& self = *done->connection;
    if (self.closed()) return;
    if (status != 0) {
      self.close(uv_status(status, StatusCode::kUnavailable,
                           str_cat("connecting to ", self.remote_.to_string())));
      return;
    }
    self.on_socket_ready();
  });
  if (started != 0) {
    delete request;
    close(uv_status(started, StatusCode::kUnavailable, str_cat("connecting to ", remote_.to_string())));
  }
}

void Connection::adopt(UvHandle<uv_tcp_t> socket) {
  socket_ = std::move(socket);
  socket_.get()->data = this;
  start_timers();
  on_socket_ready();
}

void Connection::start_timers() {
  const auto shortest = std::min({options_.handshake_timeout, options_.idle_timeout, options_.stall_timeout});
  const std::chrono::milliseconds period(std::max<int64_t>(1, shortest.count() / 4));
  ticker_.start(period, period, [this] {
    auto keepalive = shared_from_this();
    on_tick();
  });
}

void Connection::on_socket_ready() {
  state_ = State::kHandshaking;
  uv_tcp_nodelay(socket_.get(), 1);
  if (!start_reading()) return;
  send_hello();
}

bool Connection::start_reading() {
  const int started = uv_read_start(
      socket_.as_stream(),
      [](uv_handle_t* handle, size_t, uv_buf_t* buffer) {
        Connection* self = connection_of(handle);
        std::span<std::byte> target = self->reader_.read_buffer();
        *buffer = uv_buf_init(reinterpret_cast<char*>(target.data()), static_cast<unsigned>(
            std::min<size_t>(target.size(), 1u << 30)));
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
        Connection* self = connection_of(reinterpret_cast<uv_handle_t*>(stream));
        if (self == nullptr) return;
        auto keepalive = self->shared_from_this();
        if (nread > 0) {
          self->on_read(nread);
        } else if (nread == UV_EOF) {
          self->close(Status(StatusCode::kUnavailable,
                             str_cat("peer ", self->remote_.to_string(), " closed the connection")));
        } else if (nread < 0) {
          self->close(uv_status(static_cast<int>(nread), StatusCode::kUnavailable,
                                str_cat("reading from ", self->remote_.to_string())));
        }
      });
  if (started != 0) {
    close(uv_status(started, StatusCode::kUnavailable, "starting to read"));
    return false;
  }
  reading_ = true;
  return true;
}

void Connection::apply_backpressure() {
  // A peer that sends requests but does not read the answers would otherwise grow the send
  // queue without bound: stop reading from it until the queue has drained to half.
  const uint64_t queued = writer_.queued_bytes() + bytes_in_flight_;
  const uint64_t limit = options_.writer_limits.max_queued_bytes;
  if (reading_ && queued > limit) {
    HIVE_UV_CHECK(uv_read_stop(socket_.as_stream()));
    reading_ = false;
  } else if (!reading_ && queued <= limit / 2 && !closed()) {
    start_reading();
  }
}

void Connection::on_read(ssize_t nread) {
  last_read_ms_ = loop_.now_ms();
  Status status = reader_.commit_read(static_cast<size_t>(nread), *this);
  if (!status.is_ok()) fail_bad_input(status);
}

void Connection::on_tick() {
  const uint64_t now = loop_.now_ms();
  if (state_ != State::kReady &&
      now - created_ms_ >= static_cast<uint64_t>(options_.handshake_timeout.count())) {
    if (hooks_.counters != nullptr) ++hooks_.counters->connections_rejected_handshake;
    close(Status(StatusCode::kUnavailable,
                 str_cat("no connection and identity handshake with ", remote_.to_string(),
                         " within ", options_.handshake_timeout.count(), " ms")));
    return;
  }
  const uint64_t quiet = now - last_read_ms_;
  if (reader_.mid_message() && quiet >= static_cast<uint64_t>(options_.stall_timeout.count())) {
    if (hooks_.counters != nullptr) ++hooks_.counters->connections_stalled;
    log(LogLevel::kWarning, "closing connection to ", remote_.to_string(), ": peer stalled mid-frame for ",
        quiet, " ms");
    close(Status(StatusCode::kUnavailable, str_cat("peer ", remote_.to_string(),
                                                   " stalled mid-frame for ", quiet, " ms")));
    return;
  }
  const uint64_t write_stalled = now - last_write_progress_ms_;
  if (bytes_in_flight_ > 0 && write_stalled >= static_cast<uint64_t>(options_.stall_timeout.count())) {
    if (hooks_.counters != nullptr) ++hooks_.counters->connections_stalled;
    log(LogLevel::kWarning, "closing connection to ", remote_.to_string(), ": peer read nothing for ",
        write_stalled, " ms");
    close(Status(StatusCode::kUnavailable, str_cat("peer ", remote_.to_string(), " read nothing for ",
                                                   write_stalled, " ms")));
    return;
  }
  const bool idle = pending_.empty() && serving_.empty() && writer_.empty() && bytes_in_flight_ == 0;
  if (idle && now - last_progress_ms_ >= static_cast<uint64_t>(options_.idle_timeout.count())) {
    close(Status(StatusCode::kUnavailable, str_cat("connection to ", remote_.to_string(), " idle")));
  }
}

void Connection::send_hello() {
  own_nonce_ = random_nonce();
  FrameHeader hello;
  hello.kind = FrameKind::kHello;
  hello.hello = HelloFields{kProtocolVersion, identity_.public_key(), own_nonce_};
  writer_.enqueue_control(hello);
  pump_writes();
}

void Connection::on_control(FrameHeader header) {
  if (closed()) return;
  switch (header.kind) {
    case FrameKind::kHello: return on_hello(header);
    case FrameKind::kProof: return on_proof(header);
    case FrameKind::kCancel:
      if (auto entry = serving_.find(header.call_id); entry != serving_.end()) {
        if (auto responder = entry->second.lock()) responder->mark_cancelled();
      }
      return;
    default:
      fail_bad_input(Status(StatusCode::kProtocolError,
                            str_cat("unexpected ", frame_kind_name(header.kind), " frame")));
  }
}

void Connection::on_hello(const FrameHeader& header) {
  if (peer_hello_) {
    fail_bad_input(Status(StatusCode::kProtocolError, "second hello on one connection"));
    return;
  }
  if (header.hello->public_key == identity_.public_key() || header.hello->nonce == own_nonce_) {
    // Our own hello reflected back: nobody else can answer it with our key.
    fail_bad_input(Status(StatusCode::kUnauthenticated, "peer presented this node's own key or nonce"));
    return;
  }
  peer_hello_ = *header.hello;
  peer_id_ = PeerId::from_public_key(peer_hello_->public_key);
  FrameHeader proof;
  proof.kind = FrameKind::kProof;
  proof.proof = sign_handshake(identity_, own_nonce_, peer_hello_->public_key, peer_hello_->nonce);
  writer_.enqueue_control(proof);
  pump_writes();
}

void Connection::on_proof(const FrameHeader& header) {
  if (!peer_hello_ || state_ == State::kReady) {
    fail_bad_input(Status(StatusCode::kProtocolError, "proof frame out of order"));
    return;
  }
  if (!verify_handshake(peer_hello_->public_key, peer_hello_->nonce, identity_, own_nonce_,
                        *header.proof)) {
    if (hooks_.counters != nullptr) ++hooks_.counters->connections_rejected_handshake;
    log(LogLevel::kWarning, "closing connection to ", remote_.to_string(), ": peer ",
        peer_id_.to_hex(), " failed to prove it holds its key");
    close(Status(StatusCode::kUnauthenticated,
                 str_cat("peer at ", remote_.to_string(), " failed to prove it holds the key of ",
                         peer_id_.to_hex())));
    return;
  }
  state_ = State::kReady;
  reader_.allow_messages();
  std::vector<uint64_t> waiting;
  for (auto& [call_id, call] : pending_) {
    if (call.unsent) waiting.push_back(call_id);
  }
  std::sort(waiting.begin(), waiting.end());  // calls go out in the order they were made
  for (uint64_t call_id : waiting) {
    auto entry = pending_.find(call_id);
    if (entry == pending_.end()) continue;
    send_request(call_id, entry->second);
  }
}

void Connection::on_message(FrameHeader header, Message message) {
  if (closed()) return;
  last_progress_ms_ = loop_.now_ms();
  if (state_ != State::kReady) {
    fail_bad_input(Status(StatusCode::kProtocolError,
                          str_cat(frame_kind_name(header.kind), " before the identity handshake")));
    return;
  }
  if (header.kind == FrameKind::kRequest) {
    on_request(std::move(header), std::move(message));
  } else {
    on_response(std::move(header), std::move(message));
  }
}

void Connection::on_request(FrameHeader header, Message message) {
  const uint64_t call_id = header.call_id;
  if (serving_.contains(call_id)) {
    fail_bad_input(Status(StatusCode::kProtocolError,
                          str_cat("request with call id ", call_id, " already being served")));
    return;
  }
  if (serving_.size() >= options_.max_incoming_calls) {
    send_response(call_id, Status(StatusCode::kOverloaded,
                                  str_cat("serving ", serving_.size(), " calls, the limit")));
    return;
  }
  std::weak_ptr<Connection> weak = weak_from_this();
  auto responder = std::make_shared<Responder>(loop_, header.method, [weak, call_id](Result<Message> reply) {
    if (auto self = weak.lock()) self->send_response(call_id, std::move(reply));
  });
  serving_.emplace(call_id, responder);
  IncomingCall call{std::move(header.method), std::move(message), PeerInfo{peer_id_, remote_},
                    Transport::kTcp, std::chrono::milliseconds(header.timeout_ms),
                    std::move(responder)};
  hooks_.dispatch(std::move(call));
}

void Connection::on_response(FrameHeader header, Message message) {
  if (!pending_.contains(header.call_id)) return;  // timed out or cancelled meanwhile
  if (header.status_code != 0) {
    finish_call(header.call_id,
                Status(status_code_from_wire(header.status_code),
                       str_cat("peer ", remote_.to_string(), ": ", header.status_message)));
    return;
  }
  finish_call(header.call_id, Reply{std::move(message), PeerInfo{peer_id_, remote_}});
}

void Connection::call(uint64_t call_id, std::string method, Message request,
                      const CallOptions& options, ReplyCallback done) {
  if (closed()) {
    done(Status(StatusCode::kUnavailable, str_cat("connection to ", remote_.to_string(), " closed: ",
                                                  close_reason_.message())));
    return;
  }
  FrameHeader header;
  header.kind = FrameKind::kRequest;
  header.call_id = call_id;
  header.method = method;
  header.timeout_ms = static_cast<uint32_t>(std::clamp<int64_t>(options.timeout.count(), 0, UINT32_MAX));
  auto [entry, inserted] = pending_.try_emplace(call_id);
  HIVE_NET_CHECK(inserted, "call id ", call_id, " reused on one connection");
  PendingCall& call = entry->second;
  call.method = std::move(method);
  call.expected_peer = options.expected_peer;
  call.done = std::move(done);
  call.timeout = options.timeout;
  call.unsent.emplace(std::move(header), std::move(request));
  call.deadline_ms = loop_.now_ms() + static_cast<uint64_t>(std::max<int64_t>(0, options.timeout.count()));
  deadlines_.emplace(call.deadline_ms, call_id);
  arm_deadline_timer();
  if (state_ == State::kReady) send_request(call_id, call);
}

void Connection::arm_deadline_timer() {
  if (deadlines_.empty()) return;
  const uint64_t earliest = deadlines_.begin()->first;
  if (earliest >= armed_deadline_ms_) return;
  armed_deadline_ms_ = earliest;
  const uint64_t now = loop_.now_ms();
  deadline_timer_.start(std::chrono::milliseconds(earliest > now ? earliest - now : 0),
                        std::chrono::milliseconds(0), [this] {
                          auto keepalive = shared_from_this();
                          on_deadline_timer();
                        });
}

void Connection::on_deadline_timer() {
  armed_deadline_ms_ = UINT64_MAX;
  const uint64_t now = loop_.now_ms();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now && !closed()) {
    on_deadline(deadlines_.begin()->second);
  }
  if (!closed()) arm_deadline_timer();
}

void Connection::on_deadline(uint64_t call_id) {
  auto entry = pending_.find(call_id);
  if (entry == pending_.end()) return;
  const bool sent = !entry->second.unsent.has_value();
  Status status(StatusCode::kDeadlineExceeded,
                str_cat("call '", entry->second.method, "' to ", remote_.to_string(),
                        " got no answer within ", entry->second.timeout.count(), " ms"));
  finish_call(call_id, std::move(status));
  if (sent) send_cancel(call_id);
}

void Connection::cancel(uint64_t call_id) {
  auto entry = pending_.find(call_id);
  if (entry == pending_.end()) return;
  const bool sent = !entry->second.unsent.has_value();
  Status status(StatusCode::kCancelled, str_cat("call '", entry->second.method, "' to ",
                                                remote_.to_string(), " cancelled by the caller"));
  finish_call(call_id, std::move(status));
  if (sent) send_cancel(call_id);
}

void Connection::send_cancel(uint64_t call_id) {
  if (closed()) return;
  writer_.cancel_request(call_id);
  pump_writes();
}

void Connection::send_request(uint64_t call_id, PendingCall& call) {
  if (call.expected_peer && *call.expected_peer != peer_id_) {
    finish_call(call_id, Status(StatusCode::kUnauthenticated,
                                str_cat("expected peer ", call.expected_peer->to_hex(), " at ",
                                        remote_.to_string(), ", found ", peer_id_.to_hex())));
    return;
  }
  auto [header, message] = std::move(*call.unsent);
  call.unsent.reset();
  Status status = writer_.enqueue(std::move(header), std::move(message));
  if (!status.is_ok()) {
    finish_call(call_id, Status(status.code(), str_cat("call '", call.method, "' to ",
                                                       remote_.to_string(), ": ", status.message())));
    return;
  }
  pump_writes();
}

void Connection::send_response(uint64_t call_id, Result<Message> reply) {
  serving_.erase(call_id);
  if (closed()) return;
  FrameHeader header;
  header.kind = FrameKind::kResponse;
  header.call_id = call_id;
  if (reply.is_ok()) {
    Status status = writer_.enqueue(header, std::move(reply).value());
    if (status.is_ok()) {
      pump_writes();
      apply_backpressure();
      return;
    }
    reply = status;
  }
  // An error answer has no payload: it goes out as a control frame, ahead of bulk data.
  header.status_code = static_cast<int32_t>(reply.status().code());
  header.status_message = reply.status().message().substr(0, kMaxStatusMessageBytes);
  writer_.enqueue_control(header);
  pump_writes();
  apply_backpressure();
}

void Connection::finish_call(uint64_t call_id, Result<Reply> result) {
  auto node = pending_.extract(call_id);
  if (node.empty()) return;
  deadlines_.erase({node.mapped().deadline_ms, call_id});
  node.mapped().done(std::move(result));
}

void Connection::fail_bad_input(const Status& status) {
  if (closed()) return;
  if (hooks_.counters != nullptr) ++hooks_.counters->connections_rejected_bad_input;
  log(LogLevel::kWarning, "closing connection to ", remote_.to_string(), ": ", status.to_string());
  close(status);
}

void Connection::close(const Status& reason) {
  if (closed()) return;
  // The endpoint drops its reference in on_closed; this one lasts until close() returns.
  auto keepalive = shared_from_this();
  state_ = State::kClosed;
  close_reason_ = reason;
  socket_.close();
  ticker_.stop();
  deadline_timer_.stop();
  const StatusCode code = reason.code() == StatusCode::kUnauthenticated ? StatusCode::kUnauthenticated
                                                                         : StatusCode::kUnavailable;
  std::vector<uint64_t> calls;
  calls.reserve(pending_.size());
  for (const auto& entry : pending_) calls.push_back(entry.first);
  for (uint64_t call_id : calls) {
    finish_call(call_id, Status(code, str_cat("connection to ", remote_.to_string(), " closed: ",
                                              reason.message())));
  }
  // Cancelling may answer (and so erase from serving_) right away: walk a detached copy.
  auto serving = std::exchange(serving_, {});
  for (auto& entry : serving) {
    if (auto responder = entry.second.lock()) responder->mark_cancelled();
  }
  if (hooks_.on_closed) hooks_.on_closed(*this);
}

void Connection::pump_writes() {
  while (!closed() && bytes_in_flight_ < kMaxBytesInFlight && !writer_.empty()) {
    auto* request = new WriteRequest;
    while (request->bytes < kMaxBytesPerWrite && request->buffers.size() < kMaxPiecesPerWrite) {
      std::optional<OutgoingFrame> frame = writer_.next_frame();
      if (!frame) break;
      for (std::span<const std::byte> piece : frame->pieces) {
        // libuv does not write through the buffers; its API just lacks const.
        request->buffers.push_back(uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(piece.data())),
                                               static_cast<unsigned>(piece.size())));
      }
      request->bytes += frame->bytes;
      request->frames.push_back(std::move(*frame));
    }
    if (bytes_in_flight_ == 0 && !write_fully_at_once(*request)) {
      delete request;
      return;
    }
    if (request->bytes == 0) {  // all on the socket already: no callback to wait for
      delete request;
      continue;
    }
    request->connection = shared_from_this();
    request->request.data = request;
    if (bytes_in_flight_ == 0) last_write_progress_ms_ = loop_.now_ms();
    bytes_in_flight_ += request->bytes;
    const int started = uv_write(&request->request, socket_.as_stream(), request->buffers.data(),
                                 static_cast<unsigned>(request->buffers.size()),
                                 [](uv_write_t* write, int status) {
                                   auto* done = static_cast<WriteRequest*>(write->data);
                                   done->connection->on_write_done(done, status);
                                 });
    if (started != 0) {
      bytes_in_flight_ -= request->bytes;
      delete request;
      close(uv_status(started, StatusCode::kUnavailable, str_cat("writing to ", remote_.to_string())));
      return;
    }
  }
}

bool Connection::write_fully_at_once(WriteRequest& request) {
  // With nothing queued in libuv, the socket can take the bytes now: one writev, no write
  // callback, no epoll update; libuv gets only what the kernel did not take.
  const int written = uv_try_write(socket_.as_stream(), request.buffers.data(),
                                   static_cast<unsigned>(request.buffers.size()));
  if (written == UV_EAGAIN) return true;
  if (written < 0) {
    close(uv_status(written, StatusCode::kUnavailable, str_cat("writing to ", remote_.to_string())));
    return false;
  }
  auto remaining = static_cast<uint64_t>(written);
  request.bytes -= remaining;
  size_t first = 0;
  while (first < request.buffers.size() && remaining >= request.buffers[first].len) {
    remaining -= request.buffers[first].len;
    ++first;
  }
  if (first < request.buffers.size()) {
    request.buffers[first].base += remaining;
    request.buffers[first].len -= remaining;
  }
  request.buffers.erase(request.buffers.begin(), request.buffers.begin() + static_cast<ptrdiff_t>(first));
  return true;
}

void Connection::on_write_done(WriteRequest* request, int status) {
  std::shared_ptr<Connection> self = std::move(request->connection);
  bytes_in_flight_ -= request->bytes;
  delete request;
  if (closed()) return;
  if (status != 0) {
    close(uv_status(status, StatusCode::kUnavailable, str_cat("writing to ", remote_.to_string())));
    return;
  }
  last_write_progress_ms_ = loop_.now_ms();
  pump_writes();
  apply_backpressure();
}

}  // namespace hive::net
