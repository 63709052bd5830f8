// Dropout with a seeded, recomputable mask.
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"

namespace hive {

// Zeroes each element with probability p and scales the rest by 1 / (1 - p). Element i is kept
// when random_uniform(seed, i) >= p (engine/core/counter_random.h), so the same seed gives the
// same mask on every device; backward recomputes it instead of storing it. p in [0, 1).
Tensor dropout(const Tensor& x, float p, uint64_t seed);

}  // namespace hive
