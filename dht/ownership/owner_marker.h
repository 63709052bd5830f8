// Owner markers: a key name or a subkey that contains `[owner:<64 lower-case hex digits>]` names
// the ed25519 public key of its owner, and only that owner may store values under it (see
// dht/ownership/owner.h). Depends on net only, so that storage can name owners in its errors.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/core/status.h"
#include "net/identity/identity.h"

namespace hive::dht {

inline constexpr std::string_view kOwnerMarkerPrefix = "[owner:";
inline constexpr char kOwnerMarkerEnd = ']';

// 64 lower-case hex digits.
std::string public_key_hex(const net::PublicKey& key);

// "[owner:<public_key_hex(owner)>]": put it anywhere inside a key name or a subkey.
std::string owner_marker(const net::PublicKey& owner);

// The owner that `name` (a key name or a subkey) names: nothing when it holds no "[owner:", the
// key when every marker in it is well formed and names the same key. kProtocolError when a
// "[owner:" is not followed by 64 lower-case hex digits and ']', or when two markers name
// different owners; the message gives the byte offset and what was found there.
net::Result<std::optional<net::PublicKey>> owner_named_in(std::span<const std::byte> name);

}  // namespace hive::dht
