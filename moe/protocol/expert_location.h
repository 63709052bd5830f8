// Where an expert is served: its uid, the address of its server and the server's peer id. This
// is the value of the DHT records a server announces (moe/server/expert_announcer.h) and what
// beam search (moe/client/beam_search.h) hands to the trainer, which calls the expert there and
// checks the server's identity (net::CallOptions::expected_peer).
#pragma once

#include <span>
#include <vector>

#include "engine/core/status.h"
#include "moe/uid/expert_uid.h"
#include "net/identity/identity.h"
#include "net/transport/socket_address.h"

namespace hive::moe {

struct ExpertLocation {
  ExpertUid uid;
  net::SocketAddress address;
  net::PeerId peer;

  bool operator==(const ExpertLocation&) const = default;
};

// The record value (FlatBuffers, file identifier "HXL1").
std::vector<std::byte> encode_expert_location(const ExpertLocation& location);
// Errors say what is wrong with the value ("not an expert location", "uid 'x': ...",
// "address '...': ..."); a value from the DHT is a peer's input and may be anything.
Result<ExpertLocation> decode_expert_location(std::span<const std::byte> value);

}  // namespace hive::moe
