#include "net/transport/socket_address.h"

#include <uv.h>

#include <charconv>
#include <cstring>

#include "net/loop/uv_error.h"

namespace hive::net {

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("address '", text, "' is not host:port (e.g. 127.0.0.1:4000)"));
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("address '", text, "': port '", port_text, "' is not in 0..65535"));
  }
  SocketAddress address;
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  const std::string host_string(bracketed ? host.substr(1, host.size() - 2) : host);
  int result = 0;
  if (bracketed || host_string.find(':') != std::string::npos) {
    result = uv_ip6_addr(host_string.c_str(), port, reinterpret_cast<sockaddr_in6*>(&address.storage_));
  } else {
    result = uv_ip4_addr(host_string.c_str(), port, reinterpret_cast<sockaddr_in*>(&address.storage_));
  }
  if (result != 0) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("address '", text, "': '", host_string,
                          "' is not a numeric IPv4 or IPv6 address"));
  }
  return address;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* source) {
  SocketAddress address;
  const size_t size = source->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(&address.storage_, source, size);
  return address;
}

int SocketAddress::port() const {
  if (storage_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
}

std::strong_ordering SocketAddress::operator<=>(const SocketAddress& other) const {
  if (auto order = storage_.ss_family <=> other.storage_.ss_family; order != 0) return order;
  if (auto order = port() <=> other.port(); order != 0) return order;
  int difference = 0;
  if (storage_.ss_family == AF_INET6) {
    difference = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                             &reinterpret_cast<const sockaddr_in6*>(&other.storage_)->sin6_addr,
                             sizeof(in6_addr));
  } else {
    difference = std::memcmp(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr,
                             &reinterpret_cast<const sockaddr_in*>(&other.storage_)->sin_addr,
                             sizeof(in_addr));
  }
  return difference <=> 0;
}

std::string SocketAddress::to_string() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (storage_.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&storage_), host, sizeof(host));
    return str_cat("[", host, "]:", port());
  }
  uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&storage_), host, sizeof(host));
  return str_cat(host, ":", port());
}

}  // namespace hive::net
