#include "tools/hive/peer_setup.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>

namespace hive::tools {
namespace {

bool is_wildcard(const net::SocketAddress& address) {
  const sockaddr* raw = address.get();
  if (raw->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(raw)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  const auto* ip6 = reinterpret_cast<const sockaddr_in6*>(raw);
  return raw->sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&ip6->sin6_addr);
}

}  // namespace

Result<std::vector<net::SocketAddress>> parse_initial_peers(const std::vector<std::string>& texts) {
  std::vector<net::SocketAddress> peers;
  for (const std::string& text : texts) {
    auto peer = net::SocketAddress::parse(text);
    if (!peer.is_ok()) {
      return Status::error("--initial-peers '" + text + "': " + peer.status().to_string());
    }
    peers.push_back(peer.value());
  }
  return peers;
}

Result<net::Identity> load_identity(const std::string& path) {
  if (path.empty()) return net::Identity::generate();
  auto loaded = net::Identity::load_or_create(path);
  if (!loaded.is_ok()) return Status::error("--identity: " + loaded.status().to_string());
  return std::move(loaded).value();
}

Result<net::SocketAddress> advertised_address(const std::string& command, const std::string& advertise,
                                              const net::SocketAddress& bound) {
  const std::string port = std::to_string(bound.port());
  if (!advertise.empty()) {
    auto address = net::SocketAddress::parse(advertise);
    if (!address.is_ok()) address = net::SocketAddress::parse(advertise + ":" + port);
    if (!address.is_ok()) {
      return Status::error("--advertise '" + advertise + "': " + address.status().to_string());
    }
    return address.value();
  }
  if (!is_wildcard(bound)) return bound;
  const bool ip6 = bound.get()->sa_family == AF_INET6;
  const net::SocketAddress loopback =
      net::SocketAddress::parse((ip6 ? "[::1]:" : "127.0.0.1:") + port).value();
  std::fprintf(stderr,
               "%s: note: listening on the wildcard address %s; advertising %s, which only "
               "this machine can reach (pass --advertise HOST[:PORT] for other machines)\n",
               command.c_str(), bound.to_string().c_str(), loopback.to_string().c_str());
  return loopback;
}

}  // namespace hive::tools
