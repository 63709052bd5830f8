// Shared helpers for the DHT's tests.
#pragma once

#include <string_view>

#include "dht/storage/record.h"

namespace hive::dht::testing {

// The bytes of `text` (values, subkeys).
inline Bytes bytes(std::string_view text) {
  Bytes out;
  for (const char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

}  // namespace hive::dht::testing
