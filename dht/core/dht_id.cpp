#include "dht/core/dht_id.h"

#include <sodium.h>

#include <bit>

#include "net/core/check.h"

namespace hive::dht {

static_assert(kIdBytes == net::kPeerIdBytes, "a node's DHT id is its peer id");
static_assert(kIdBytes >= crypto_generichash_BYTES_MIN && kIdBytes <= crypto_generichash_BYTES_MAX);
static_assert(kIdBits == 8 * kIdBytes);

namespace {

// The value of one hex digit (either case), or -1.
int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` for an error message, cut short: parsed strings may come from peers and be huge.
std::string excerpt(std::string_view text) {
  constexpr size_t kMaxChars = 64;
  if (text.size() <= kMaxChars) return std::string(text);
  return net::str_cat(text.substr(0, kMaxChars), "...");
}

// A mask of the first `bits` (0..8) bits of a byte, from the most significant.
uint8_t leading_mask(size_t bits) { return static_cast<uint8_t>(0xff00u >> bits); }

}  // namespace

DhtId DhtId::from_peer_id(const net::PeerId& peer) {
  std::array<uint8_t, kIdBytes> bytes;
  for (size_t i = 0; i < kIdBytes; ++i) bytes[i] = std::to_integer<uint8_t>(peer.bytes()[i]);
  return DhtId(bytes);
}

DhtId DhtId::of_key(std::string_view key) {
  net::ensure_sodium_initialized();
  std::array<uint8_t, kIdBytes> bytes;
  const int rc = crypto_generichash(bytes.data(), bytes.size(),
                                    reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                                    nullptr, 0);
  HIVE_NET_CHECK(rc == 0, "crypto_generichash failed on a key of ", key.size(), " bytes");
  return DhtId(bytes);
}

DhtId DhtId::random(RandomSource& random) {
  std::array<uint8_t, kIdBytes> bytes;
  uint64_t word = 0;
  for (size_t i = 0; i < kIdBytes; ++i) {
    if (i % 8 == 0) word = random.next();
    bytes[i] = static_cast<uint8_t>(word >> (8 * (i % 8)));
  }
  return DhtId(bytes);
}

DhtId DhtId::random_with_prefix(const DhtId& prefix, size_t prefix_bits, RandomSource& random) {
  HIVE_NET_CHECK(prefix_bits <= kIdBits, "prefix of ", prefix_bits, " bits; an id has ", kIdBits);
  DhtId id = DhtId::random(random);
  const size_t full_bytes = prefix_bits / 8;
  for (size_t i = 0; i < full_bytes; ++i) id.bytes_[i] = prefix.bytes_[i];
  if (const size_t rest = prefix_bits % 8; rest != 0) {
    const uint8_t mask = leading_mask(rest);
    id.bytes_[full_bytes] =
        static_cast<uint8_t>((prefix.bytes_[full_bytes] & mask) | (id.bytes_[full_bytes] & ~mask));
  }
  return id;
}

net::Result<DhtId> DhtId::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kIdBytes) {
    return net::Status(net::StatusCode::kInvalidArgument,
                       net::str_cat("DHT id '", excerpt(hex), "' has ", hex.size(),
                                    " characters; expected ", 2 * kIdBytes, " hex digits"));
  }
  std::array<uint8_t, kIdBytes> bytes;
  for (size_t i = 0; i < hex.size(); ++i) {
    const int value = hex_digit_value(hex[i]);
    if (value < 0) {
      return net::Status(
          net::StatusCode::kInvalidArgument,
          net::str_cat("DHT id '", excerpt(hex), "' has a non-hex character '", hex[i],
                       "' at position ", i, "; expected ", 2 * kIdBytes, " hex digits"));
    }
    if (i % 2 == 0) {
      bytes[i / 2] = static_cast<uint8_t>(value << 4);
    } else {
      bytes[i / 2] = static_cast<uint8_t>(bytes[i / 2] | value);
    }
  }
  return DhtId(bytes);
}

std::string DhtId::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * kIdBytes, '0');
  for (size_t i = 0; i < kIdBytes; ++i) {
    hex[2 * i] = kDigits[bytes_[i] >> 4];
    hex[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return hex;
}

DhtId DhtId::with_bit(size_t index, bool value) const {
  HIVE_NET_CHECK(index < kIdBits, "bit ", index, " of an id of ", kIdBits, " bits");
  DhtId copy = *this;
  const auto mask = static_cast<uint8_t>(0x80u >> (index % 8));
  uint8_t& byte = copy.bytes_[index / 8];
  byte = static_cast<uint8_t>(value ? (byte | mask) : (byte & ~mask));
  return copy;
}

DhtId DhtId::prefix(size_t bits) const {
  HIVE_NET_CHECK(bits <= kIdBits, "prefix of ", bits, " bits; an id has ", kIdBits);
  DhtId copy;
  const size_t full_bytes = bits / 8;
  for (size_t i = 0; i < full_bytes; ++i) copy.bytes_[i] = bytes_[i];
  if (const size_t rest = bits % 8; rest != 0) {
    copy.bytes_[full_bytes] = static_cast<uint8_t>(bytes_[full_bytes] & leading_mask(rest));
  }
  return copy;
}

DhtId DhtId::operator^(const DhtId& other) const {
  DhtId result;
  for (size_t i = 0; i < kIdBytes; ++i) {
    result.bytes_[i] = static_cast<uint8_t>(bytes_[i] ^ other.bytes_[i]);
  }
  return result;
}

size_t common_prefix_bits(const DhtId& a, const DhtId& b) {
  for (size_t i = 0; i < kIdBytes; ++i) {
    const auto diff = static_cast<uint8_t>(a.bytes()[i] ^ b.bytes()[i]);
    if (diff != 0) return 8 * i + static_cast<size_t>(std::countl_zero(diff));
  }
  return kIdBits;
}

}  // namespace hive::dht
