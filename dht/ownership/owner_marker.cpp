#include "dht/ownership/owner_marker.h"

#include <cstdint>

namespace hive::dht {
namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr size_t kKeyHexChars = 2 * net::kPublicKeyBytes;

// Lower-case only: one spelling per owner, so that equal owners give equal names.
int lower_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// 'x' for a printable byte, else its value in hex: names may hold any bytes.
std::string describe(char c) {
  const auto byte = static_cast<uint8_t>(c);
  if (byte >= 0x20 && byte < 0x7F) return net::str_cat("'", c, "'");
  return net::str_cat("byte 0x", kHexDigits[byte >> 4], kHexDigits[byte & 0xF]);
}

net::Status malformed(size_t at, std::string what) {
  return net::Status(net::StatusCode::kProtocolError,
                     net::str_cat("owner marker at byte ", at, ": ", what, " (expected \"",
                                  kOwnerMarkerPrefix, "\", ", kKeyHexChars,
                                  " lower-case hex digits, '", kOwnerMarkerEnd, "')"));
}

// The key of the well-formed marker that starts at `at` (where kOwnerMarkerPrefix is).
net::Result<net::PublicKey> parse_marker(std::string_view text, size_t at) {
  const size_t digits_at = at + kOwnerMarkerPrefix.size();
  for (size_t i = 0; i < kKeyHexChars; ++i) {
    const size_t position = digits_at + i;
    if (position == text.size()) {
      return malformed(at, net::str_cat("the name ends after ", i, " hex digits"));
    }
    if (lower_hex_value(text[position]) < 0) {
      return malformed(at, net::str_cat("hex digit ", i, " is ", describe(text[position])));
    }
  }
  const size_t end_at = digits_at + kKeyHexChars;
  if (end_at == text.size()) return malformed(at, "the name ends before ']'");
  if (text[end_at] != kOwnerMarkerEnd) {
    return malformed(at, net::str_cat(describe(text[end_at]), " after the hex digits"));
  }
  net::PublicKey key{};
  for (size_t i = 0; i < net::kPublicKeyBytes; ++i) {
    const char* pair = text.data() + digits_at + 2 * i;
    key[i] = static_cast<std::byte>(lower_hex_value(pair[0]) << 4 | lower_hex_value(pair[1]));
  }
  return key;
}

}  // namespace

std::string public_key_hex(const net::PublicKey& key) {
  std::string hex;
  hex.reserve(kKeyHexChars);
  for (const std::byte b : key) {
    const auto byte = std::to_integer<uint8_t>(b);
    hex.push_back(kHexDigits[byte >> 4]);
    hex.push_back(kHexDigits[byte & 0xF]);
  }
  return hex;
}

std::string owner_marker(const net::PublicKey& owner) {
  return net::str_cat(kOwnerMarkerPrefix, public_key_hex(owner), kOwnerMarkerEnd);
}

net::Result<std::optional<net::PublicKey>> owner_named_in(std::span<const std::byte> name) {
  const std::string_view text(reinterpret_cast<const char*>(name.data()), name.size());
  std::optional<net::PublicKey> owner;
  size_t owner_at = 0;
  for (size_t at = text.find(kOwnerMarkerPrefix); at != std::string_view::npos;
       at = text.find(kOwnerMarkerPrefix, at + kOwnerMarkerPrefix.size())) {
    net::Result<net::PublicKey> key = parse_marker(text, at);
    if (!key.is_ok()) return key.status();
    if (owner && *owner != key.value()) {
      return net::Status(net::StatusCode::kProtocolError,
                         net::str_cat("two owners named: ", public_key_hex(*owner), " at byte ",
                                      owner_at, " and ", public_key_hex(key.value()), " at byte ",
                                      at));
    }
    if (!owner) {
      owner = key.value();
      owner_at = at;
    }
  }
  return owner;
}

}  // namespace hive::dht
