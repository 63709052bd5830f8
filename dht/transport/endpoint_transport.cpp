#include "dht/transport/endpoint_transport.h"

#include <memory>
#include <string>
#include <utility>

namespace hive::dht {

void EndpointTransport::call(const net::SocketAddress& to, std::string_view method, Bytes request,
                             std::chrono::milliseconds timeout, ReplyCallback done) {
  net::Message message;
  message.metadata = std::move(request);
  net::CallOptions options;
  options.timeout = timeout;
  endpoint_.call_datagram(to, std::string(method), std::move(message), options,
                          [done = std::move(done)](net::Result<net::Reply> reply) {
                            if (!reply.is_ok()) {
                              done(reply.status());
                              return;
                            }
                            done(std::move(reply.value().message.metadata));
                          });
}

void EndpointTransport::serve(std::string_view method, RequestHandler handler) {
  endpoint_.register_handler(std::string(method), [handler = std::move(handler)](net::IncomingCall call) {
    DhtRequest request;
    request.bytes = std::move(call.request.metadata);
    request.from = call.peer.address;
    request.from_own_endpoint = call.transport == net::Transport::kDatagram;
    request.respond = [responder = std::move(call.responder)](net::Result<Bytes> reply) {
      if (!reply.is_ok()) {
        responder->respond(reply.status());
        return;
      }
      net::Message message;
      message.metadata = std::move(reply.value());
      responder->respond(std::move(message));
    };
    handler(std::move(request));
  });
}

void EndpointTransport::stop_serving(std::string_view method) {
  endpoint_.unregister_handler(std::string(method));
}

}  // namespace hive::dht
