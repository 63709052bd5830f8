// What the DHT stores under a key: one plain value with an absolute expiration, or a dictionary of
// subkeys where each subkey carries its own value and expiration (hivemind's DictionaryDHTValue).
// Values and subkeys are opaque bytes; the DHT never looks inside them.
#pragma once

#include <cstddef>
#include <map>
#include <variant>
#include <vector>

#include "dht/core/dht_time.h"
#include "net/core/check.h"

namespace hive::dht {

using Bytes = std::vector<std::byte>;

struct TimedValue {
  Bytes value;
  DhtTime expiration = 0;

  bool operator==(const TimedValue&) const = default;
};

// subkey -> (value, expiration), ordered by the subkey's bytes.
using Dictionary = std::map<Bytes, TimedValue>;

struct Record {
  std::variant<Bytes, Dictionary> value;
  // A plain value's own expiration; a dictionary's is the latest of its subkeys'.
  DhtTime expiration = 0;

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
