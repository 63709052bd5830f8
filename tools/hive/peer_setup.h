// What every command that joins the swarm (`hive dht`, `hive serve`) does before its DHT node
// starts: read the initial peers, load its identity, and decide the address others should dial.
// Errors name the flag and the value ("--initial-peers 'x': ...").
#pragma once

#include <string>
#include <vector>

#include "engine/core/status.h"
#include "net/identity/identity.h"
#include "net/transport/socket_address.h"

namespace hive::tools {

Result<std::vector<net::SocketAddress>> parse_initial_peers(const std::vector<std::string>& texts);

// The identity in `path` (created when missing); a fresh key every run when `path` is empty.
Result<net::Identity> load_identity(const std::string& path);

// What others should dial: `advertise` (HOST:PORT, or HOST alone, which takes the bound port),
// else the bound address, else (a wildcard) loopback, with a note on stderr that starts with
// `command` ("hive dht").
Result<net::SocketAddress> advertised_address(const std::string& command, const std::string& advertise,
                                              const net::SocketAddress& bound);

}  // namespace hive::tools
