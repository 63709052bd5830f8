// An IPv4 or IPv6 address with a port, parsed from "127.0.0.1:4000" or "[::1]:4000".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <compare>
#include <string>
#include <string_view>

#include "net/core/status.h"

namespace hive::net {

class SocketAddress {
 public:
  SocketAddress() = default;
  // Numeric addresses only: resolving names is the caller's job (and would block the loop).
  static Result<SocketAddress> parse(std::string_view text);
  static SocketAddress from_sockaddr(const sockaddr* address);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  int port() const;
  // "127.0.0.1:4000" or "[::1]:4000"; the same text parse() accepts.
  std::string to_string() const;
  // Compares family, address and port (not the text: that costs a formatting per call).
  std::strong_ordering operator<=>(const SocketAddress& other) const;
  bool operator==(const SocketAddress& other) const { return (*this <=> other) == 0; }

 private:
  sockaddr_storage storage_{};
};

}  // namespace hive::net
