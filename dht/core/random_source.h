// The DHT's source of randomness, passed in so that tests and the 10,000-node simulation are
// deterministic: splitmix64, seeded by the caller (a real node seeds it from libsodium).
#pragma once

#include <cstdint>

namespace hive::dht {

class RandomSource {
 public:
  explicit RandomSource(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) (bound > 0), without modulo bias worth caring about for bound << 2^64.
  uint64_t below(uint64_t bound) { return next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace hive::dht
