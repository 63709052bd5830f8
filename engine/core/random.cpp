#include "engine/core/random.h"

#include "engine/core/counter_random.h"
#include "engine/core/error.h"

namespace hive {

RandomStream Generator::take(uint64_t count) {
  const RandomStream stream{seed_, offset_};
  offset_ += count;
  return stream;
}

uint64_t Generator::next_u64() { return random_bits(seed_, offset_++); }

uint64_t Generator::next_below(uint64_t bound) {
  HIVE_CHECK(bound > 0, "next_below(0)");
  // Lemire's multiply-shift with rejection of the biased low range.
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    __extension__ using Wide = unsigned __int128;
    const Wide product = static_cast<Wide>(next_u64()) * bound;
    if (static_cast<uint64_t>(product) >= threshold) return static_cast<uint64_t>(product >> 64);
  }
}

}  // namespace hive
