// What the DHT stores under a key: one plain value with an absolute expiration, or a dictionary of
// subkeys where each subkey carries its own value and expiration (hivemind's DictionaryDHTValue).
// Values are opaque bytes; the DHT looks inside key names and subkeys only for owner markers
// (dht/ownership), whose values carry their owner's signature.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "dht/core/dht_time.h"
#include "net/core/check.h"
#include "net/identity/identity.h"

namespace hive::dht {

using Bytes = std::vector<std::byte>;

struct TimedValue {
  Bytes value;
  DhtTime expiration = 0;
  // The owner's signature over (key, subkey, value, expiration) when the key's name or the
  // subkey names an owner (dht/ownership/owner.h); absent for values nobody owns.
  std::optional<net::Signature> signature = std::nullopt;

  bool operator==(const TimedValue&) const = default;
};

// subkey -> (value, expiration), ordered by the subkey's bytes.
using Dictionary = std::map<Bytes, TimedValue>;

struct Record {
  std::variant<Bytes, Dictionary> value;
  // A plain value's own expiration; a dictionary's is the latest of its subkeys'.
  DhtTime expiration = 0;
  // A plain value's signature, as TimedValue's; always absent for a dictionary.
  std::optional<net::Signature> signature = std::nullopt;
  // The key's owner, once a store proved that the key's name names one: only that owner's
  // stores may then change the record.
  std::optional<net::PublicKey> owner = std::nullopt;

  bool is_dictionary() const { return std::holds_alternative<Dictionary>(value); }
  const Bytes& plain() const {
    HIVE_NET_CHECK(!is_dictionary(), "Record::plain() of a dictionary record");
    return std::get<Bytes>(value);
  }
  const Dictionary& dictionary() const {
    HIVE_NET_CHECK(is_dictionary(), "Record::dictionary() of a plain record");
    return std::get<Dictionary>(value);
  }

  bool operator==(const Record&) const = default;
};

}  // namespace hive::dht
