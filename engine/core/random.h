// Generator: a seeded source of random streams.
//
// Each draw of n numbers reserves the next n counters of the generator's stream (see
// counter_random.h), so results depend only on the seed and the order of draws, never on the
// device, the thread count or the standard library.
#pragma once

#include <cstdint>

namespace hive {

struct RandomStream {
  uint64_t seed;
  uint64_t offset;  // index of the first counter that belongs to this draw
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }  // restores a saved position

  // Reserves `count` counters and returns where they start.
  RandomStream take(uint64_t count);
  uint64_t next_u64();
  // Uniform integer in [0, bound) without modulo bias; bound > 0.
  uint64_t next_below(uint64_t bound);
  // A fresh seed for an independent stream (for example one per dropout call).
  uint64_t next_seed() { return next_u64(); }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace hive
