// A node's endpoint as messages carry it (wire::NodeAddress: family, 16 address bytes, port) and
// back. Only dht/protocol/messages.cpp uses this.
#pragma once

#include "dht/schema/dht_generated.h"
#include "net/core/status.h"
#include "net/transport/socket_address.h"

namespace hive::dht {

wire::NodeAddress to_wire_address(const net::SocketAddress& address);

// kProtocolError when the family is neither IPv4 nor IPv6, or an IPv4 address has non-zero
// bytes past its four: "address family 5, expected 4 (IPv4) or 6 (IPv6)". The message names
// no field; the caller prefixes it.
net::Result<net::SocketAddress> from_wire_address(const wire::NodeAddress& address);

}  // namespace hive::dht
