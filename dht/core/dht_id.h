// 160-bit Kademlia ids and XOR distance. A node's id is its peer id (the BLAKE2b-160 hash of its
// ed25519 key), so ids cannot be chosen freely; a key's id is the BLAKE2b-160 hash of the key.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dht/core/random_source.h"
#include "net/core/status.h"
#include "net/identity/identity.h"

namespace hive::dht {

inline constexpr size_t kIdBytes = 20;
inline constexpr size_t kIdBits = 160;

class DhtId {
 public:
  DhtId() = default;
  explicit DhtId(const std::array<uint8_t, kIdBytes>& bytes) : bytes_(bytes) {}
  static DhtId from_peer_id(const net::PeerId& peer);
  static DhtId of_key(std::string_view key);  // BLAKE2b-160 of the key's bytes
  static DhtId random(RandomSource& random);
  // A random id whose first `prefix_bits` bits (0..160) are those of `prefix`: a uniform id
  // inside the bucket that `prefix` and `prefix_bits` describe (used to refresh buckets).
  static DhtId random_with_prefix(const DhtId& prefix, size_t prefix_bits, RandomSource& random);
  // 40 hex digits (either case); errors name the bad length or the first bad character.
  static net::Result<DhtId> from_hex(std::string_view hex);

  const std::array<uint8_t, kIdBytes>& bytes() const { return bytes_; }
  std::string to_hex() const;  // 40 lower-case hex digits
  // Bit `index` counted from the most significant bit (0..159).
  bool bit(size_t index) const { return (bytes_[index / 8] >> (7 - index % 8)) & 1u; }
  // A copy with bit `index` (0..159, from the most significant) set to `value`.
  DhtId with_bit(size_t index, bool value) const;
  // A copy that keeps the first `bits` bits (0..160) and clears the rest: the lowest id of the
  // range of ids that share those bits.
  DhtId prefix(size_t bits) const;

  DhtId operator^(const DhtId& other) const;
  // Numeric order: big-endian, most significant byte first. Compared as big-endian words, not
  // by memcmp: every lookup answer and nearest-nodes query sorts ids, and the out-of-line
  // memcmp calls were a tenth of a find RPC's CPU.
  std::strong_ordering operator<=>(const DhtId& other) const {
    for (size_t at = 0; at < kIdBytes; at += kWordBytes) {
      const uint64_t mine = word(at);
      const uint64_t theirs = other.word(at);
      if (mine != theirs) return mine <=> theirs;
    }
    return std::strong_ordering::equal;
  }
  bool operator==(const DhtId& other) const { return (*this <=> other) == 0; }

 private:
  static constexpr size_t kWordBytes = 8;
  // Up to 8 bytes from `at`, big-endian (the last word has 4); compilers emit one load + bswap.
  uint64_t word(size_t at) const {
    uint64_t value = 0;
    const size_t end = at + kWordBytes < kIdBytes ? at + kWordBytes : kIdBytes;
    for (size_t i = at; i < end; ++i) value = (value << 8) | bytes_[i];
    return value;
  }

  std::array<uint8_t, kIdBytes> bytes_{};
};

// For unordered containers: ids are hashes already, so their first bytes serve.
struct DhtIdHash {
  size_t operator()(const DhtId& id) const {
    size_t hash = 0;
    for (size_t i = 0; i < sizeof(hash); ++i) hash = (hash << 8) | id.bytes()[i];
    return hash;
  }
};

// Number of leading bits that a and b share (160 when equal).
size_t common_prefix_bits(const DhtId& a, const DhtId& b);

}  // namespace hive::dht
