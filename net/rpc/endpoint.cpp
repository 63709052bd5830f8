#include "net/rpc/endpoint.h"

#include <exception>

#include "net/core/log.h"
#include "net/loop/uv_error.h"
#include "net/rpc/datagram_channel.h"

namespace hive::net {
namespace {

constexpr int kListenBacklog = 1024;

Status shutting_down() { return Status(StatusCode::kUnavailable, "endpoint shutting down"); }

Result<SocketAddress> bound_address(uv_tcp_t* socket) {
  sockaddr_storage storage{};
  int length = sizeof(storage);
  const int result = uv_tcp_getsockname(socket, reinterpret_cast<sockaddr*>(&storage), &length);
  if (result != 0) return uv_status(result, StatusCode::kUnavailable, "reading the bound address");
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage));
}

}  // namespace

Endpoint::Endpoint(EventLoop& loop, Identity identity, EndpointOptions options)
    : loop_(loop),
      identity_(std::move(identity)),
      options_(std::move(options)),
      receive_budget_(std::make_shared<FrameReader::ReceiveBudget>(
          FrameReader::ReceiveBudget{options_.max_receive_bytes, 0})) {
  if (options_.emulated_round_trip.count() > 0) {
    reply_delay_ = std::make_unique<ReplyDelay>(loop_, options_.emulated_round_trip);
  }
}

Endpoint::~Endpoint() { shutdown(); }

void Endpoint::shutdown() {
  if (loop_.on_loop_thread()) {
    shutdown_on_loop();
  } else {
    loop_.run_sync([this] { shutdown_on_loop(); });
  }
}

void Endpoint::shutdown_on_loop() {
  if (shut_down_) return;
  shut_down_ = true;
  listener_.close();
  if (datagrams_) datagrams_->close();
  // close() calls back into on_closed, which edits these tables: work on copies.
  auto outbound = outbound_;
  auto inbound = inbound_;
  for (auto& [address, connection] : outbound) connection->close(shutting_down());
  for (const auto& connection : inbound) connection->close(shutting_down());
  outbound_.clear();
  inbound_.clear();
  if (reply_delay_) reply_delay_->close(shutting_down());
}

Result<SocketAddress> Endpoint::listen(std::string_view address_text) {
  if (!loop_.on_loop_thread()) {
    return loop_.run_sync([&] { return listen(address_text); });
  }
  if (shut_down_) return shutting_down();
  if (listener_) {
    return Status(StatusCode::kInvalidArgument, "endpoint is already listening");
  }
  auto address = SocketAddress::parse(address_text);
  if (!address.is_ok()) return address.status();
  UvHandle<uv_tcp_t> listener;
  int result = make_uv_handle(listener, [this](uv_tcp_t* tcp) { return uv_tcp_init(loop_.raw(), tcp); });
  if (result != 0) return uv_status(result, StatusCode::kUnavailable, "creating the TCP listener");
  result = uv_tcp_bind(listener.get(), address.value().get(), 0);
  if (result == 0) {
    listener.get()->data = this;
    result = uv_listen(listener.as_stream(), kListenBacklog, [](uv_stream_t* server, int status) {
      if (auto* self = static_cast<Endpoint*>(server->data)) self->on_accept(status);
    });
  }
  if (result != 0) {
    return uv_status(result, StatusCode::kUnavailable, str_cat("listening on ", address_text));
  }
  auto bound = bound_address(listener.get());
  if (!bound.is_ok()) return bound.status();
  auto datagrams = std::make_shared<DatagramChannel>(*this);
  Status udp = datagrams->bind(bound.value());
  if (!udp.is_ok()) return udp;
  listener_ = std::move(listener);
  datagrams_ = std::move(datagrams);
  log(LogLevel::kInfo, "listening on ", bound.value().to_string(), " as peer ", identity_.peer_id().to_hex());
  return bound;
}

void Endpoint::on_accept(int status) {
  if (status != 0) {
    log(LogLevel::kWarning, "accepting a connection failed: ", uv_error_text(status));
    return;
  }
  UvHandle<uv_tcp_t> client;
  int result = make_uv_handle(client, [this](uv_tcp_t* tcp) { return uv_tcp_init(loop_.raw(), tcp); });
  if (result != 0) {
    log(LogLevel::kWarning, "accepting a connection failed: ", uv_error_text(result));
    return;
  }
  result = uv_accept(listener_.as_stream(), client.as_stream());
  sockaddr_storage peer{};
  int length = sizeof(peer);
  if (result == 0) result = uv_tcp_getpeername(client.get(), reinterpret_cast<sockaddr*>(&peer), &length);
  if (result != 0) {
    log(LogLevel::kWarning, "accepting a connection failed: ", uv_error_text(result));
    return;
  }
  if (inbound_.size() >= options_.max_inbound_connections) {
    ++stats_.connections_refused_over_limit;
    log(LogLevel::kWarning, "refused a connection: ", inbound_.size(), " inbound connections, the limit");
    return;  // `client` closes the socket
  }
  ++stats_.connections_accepted;
  auto connection = std::make_shared<Connection>(
      loop_, identity_, options_.connection, hooks(), Connection::Side::kInbound,
      SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&peer)));
  inbound_.insert(connection);
  connection->adopt(std::move(client));
}

Connection::Hooks Endpoint::hooks() {
  Connection::Hooks hooks;
  hooks.dispatch = [this](IncomingCall call) { dispatch(std::move(call)); };
  hooks.on_closed = [this](Connection& closed) {
    auto found = outbound_.find(closed.remote());
    if (found != outbound_.end() && found->second.get() == &closed) outbound_.erase(found);
    std::erase_if(inbound_, [&](const auto& connection) { return connection.get() == &closed; });
  };
  hooks.counters = &counters_;
  hooks.receive_budget = receive_budget_;
  return hooks;
}

void Endpoint::register_handler(std::string method, Handler handler) {
  if (!loop_.on_loop_thread()) {
    loop_.run_sync([&] { register_handler(std::move(method), std::move(handler)); });
    return;
  }
  handlers_[std::move(method)] = std::move(handler);
}

void Endpoint::unregister_handler(const std::string& method) {
  if (!loop_.on_loop_thread()) {
    loop_.run_sync([&] { unregister_handler(method); });
    return;
  }
  handlers_.erase(method);
}

void Endpoint::dispatch(IncomingCall call) {
  ++stats_.calls_served;
  auto handler = handlers_.find(call.method);
  if (handler == handlers_.end()) {
    constexpr size_t kEchoedNameBytes = 64;  // the name comes from the peer: do not echo much
    call.responder->respond(Status(StatusCode::kNotFound,
                                   str_cat("no method '", call.method.substr(0, kEchoedNameBytes),
                                           "' on peer ", identity_.peer_id().to_hex())));
    return;
  }
  std::shared_ptr<Responder> responder = call.responder;
  try {
    handler->second(std::move(call));
  } catch (const std::exception& error) {
    // A handler's exception is that call's failure, not the server's (unless it answered).
    responder->try_respond(Status(StatusCode::kInternal,
                                  str_cat("handler of '", handler->first, "' failed: ", error.what())));
  }
}

std::shared_ptr<Connection> Endpoint::connection_to(const SocketAddress& to) {
  auto found = outbound_.find(to);
  if (found != outbound_.end() && !found->second->closed()) return found->second;
  auto connection = std::make_shared<Connection>(loop_, identity_, options_.connection, hooks(),
                                                 Connection::Side::kOutbound, to);
  outbound_[to] = connection;
  connection->connect();
  return connection;
}

CallHandle Endpoint::call(const SocketAddress& to, std::string method, Message request,
                          const CallOptions& options, ReplyCallback done) {
  HIVE_NET_CHECK(loop_.on_loop_thread(), "Endpoint::call off the I/O thread; use call_async");
  const uint64_t call_id = next_call_id_++;
  if (shut_down_) {
    done(shutting_down());
    return CallHandle{call_id};
  }
  ++stats_.calls_started;
  if (reply_delay_) done = reply_delay_->hold(call_id, std::move(done));
  std::shared_ptr<Connection> connection = connection_to(to);
  calls_[call_id] = connection;
  connection->call(call_id, std::move(method), std::move(request), options,
                   [this, call_id, done = std::move(done)](Result<Reply> result) {
                     calls_.erase(call_id);
                     done(std::move(result));
                   });
  return CallHandle{call_id};
}

void Endpoint::cancel(CallHandle call) {
  HIVE_NET_CHECK(loop_.on_loop_thread(), "Endpoint::cancel off the I/O thread");
  auto found = calls_.find(call.id);
  if (found != calls_.end()) {
    if (auto connection = found->second.lock()) connection->cancel(call.id);
  }
  // The reply (that cancellation's, or an answer that came in earlier) is held: release it now.
  if (reply_delay_) reply_delay_->cancel(call.id);
}

void Endpoint::call_datagram(const SocketAddress& to, std::string method, Message request,
                             const CallOptions& options, ReplyCallback done) {
  HIVE_NET_CHECK(loop_.on_loop_thread(), "Endpoint::call_datagram off the I/O thread");
  if (shut_down_ || !datagrams_) {
    done(shut_down_ ? shutting_down()
                    : Status(StatusCode::kUnavailable, "datagram calls need listen() first"));
    return;
  }
  if (reply_delay_) done = reply_delay_->hold(next_call_id_++, std::move(done));
  datagrams_->call(to, std::move(method), std::move(request), options, std::move(done));
}

namespace {
template <typename Start>
std::future<Result<Reply>> async_call(EventLoop& loop, Start start) {
  auto promise = std::make_shared<std::promise<Result<Reply>>>();
  std::future<Result<Reply>> future = promise->get_future();
  const bool posted = loop.post([promise, start = std::move(start)]() mutable {
    start([promise](Result<Reply> result) { promise->set_value(std::move(result)); });
  });
  if (!posted) promise->set_value(shutting_down());
  return future;
}
}  // namespace

std::future<Result<Reply>> Endpoint::call_async(const SocketAddress& to, std::string method,
                                                Message request, CallOptions options) {
  return async_call(loop_, [this, to, method = std::move(method), request = std::move(request),
                            options](ReplyCallback done) mutable {
    call(to, std::move(method), std::move(request), options, std::move(done));
  });
}

std::future<Result<Reply>> Endpoint::call_datagram_async(const SocketAddress& to, std::string method,
                                                         Message request, CallOptions options) {
  return async_call(loop_, [this, to, method = std::move(method), request = std::move(request),
                            options](ReplyCallback done) mutable {
    call_datagram(to, std::move(method), std::move(request), options, std::move(done));
  });
}

EndpointStats Endpoint::stats() {
  if (!loop_.on_loop_thread()) return loop_.run_sync([this] { return stats(); });
  EndpointStats stats = stats_;
  stats.connections_open = outbound_.size() + inbound_.size();
  stats.connections_rejected_bad_input = counters_.connections_rejected_bad_input;
  stats.connections_rejected_handshake = counters_.connections_rejected_handshake;
  stats.connections_stalled = counters_.connections_stalled;
  if (datagrams_) stats.datagrams_dropped_bad_input = datagrams_->dropped_bad_input();
  return stats;
}

}  // namespace hive::net
