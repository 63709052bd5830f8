// DhtTransport over a real net::Endpoint: calls are datagram RPCs (retried over UDP, moved to
// TCP when a reply or request does not fit in a datagram); served methods are endpoint handlers.
#pragma once

#include "dht/transport/dht_transport.h"
#include "net/rpc/endpoint.h"

namespace hive::dht {

class EndpointTransport final : public DhtTransport {
 public:
  explicit EndpointTransport(net::Endpoint& endpoint) : endpoint_(endpoint) {}

  void call(const net::SocketAddress& to, std::string_view method, Bytes request,
            std::chrono::milliseconds timeout, ReplyCallback done) override;
  void serve(std::string_view method, RequestHandler handler) override;
  void stop_serving(std::string_view method) override;

 private:
  net::Endpoint& endpoint_;
};

}  // namespace hive::dht
