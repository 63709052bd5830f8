#include "dht/protocol/node_address.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace hive::dht {
namespace {

constexpr size_t kIpBytes = 16;
constexpr size_t kIpv4Bytes = 4;

}  // namespace

wire::NodeAddress to_wire_address(const net::SocketAddress& address) {
  std::array<uint8_t, kIpBytes> ip{};
  const auto port = static_cast<uint16_t>(address.port());
  // Anything but IPv6 is IPv4, as SocketAddress::to_string reads it (a default-constructed
  // address is 0.0.0.0:0).
  if (address.get()->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
    std::memcpy(ip.data(), &v6->sin6_addr, kIpBytes);
    return wire::NodeAddress(ip, port, wire::AddressFamily::IPv6);
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
  std::memcpy(ip.data(), &v4->sin_addr, kIpv4Bytes);
  return wire::NodeAddress(ip, port, wire::AddressFamily::IPv4);
}

net::Result<net::SocketAddress> from_wire_address(const wire::NodeAddress& address) {
  const uint8_t* ip = address.ip()->Data();
  switch (address.family()) {
    case wire::AddressFamily::IPv4: {
      if (std::any_of(ip + kIpv4Bytes, ip + kIpBytes, [](uint8_t b) { return b != 0; })) {
        return net::Status(net::StatusCode::kProtocolError,
                           "IPv4 address with non-zero bytes past its first 4");
      }
      sockaddr_in v4{};
      v4.sin_family = AF_INET;
      v4.sin_port = htons(address.port());
      std::memcpy(&v4.sin_addr, ip, kIpv4Bytes);
      return net::SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4));
    }
    case wire::AddressFamily::IPv6: {
      sockaddr_in6 v6{};
      v6.sin6_family = AF_INET6;
      v6.sin6_port = htons(address.port());
      std::memcpy(&v6.sin6_addr, ip, kIpBytes);
      return net::SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6));
    }
    default: {
      const int family = static_cast<uint8_t>(address.family());
      return net::Status(net::StatusCode::kProtocolError,
                         net::str_cat("address family ", family, ", expected 4 (IPv4) or 6 (IPv6)"));
    }
  }
}

}  // namespace hive::dht
