// Counter-based random numbers: the value at (seed, index) depends on nothing else, so any
// thread of any device can draw element i of a stream directly. The CPU and CUDA backends use
// these same functions, which is why a seeded rand or dropout mask is identical on both (randn
// too, up to the last-ulp differences between CUDA's and the C library's logf/cosf/sqrtf).
//
// The stream is splitmix64 (a Weyl sequence through a 64-bit mixer) started at mix64(seed).
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/core/host_device.h"

namespace hive {

HIVE_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

HIVE_HOST_DEVICE inline uint64_t random_bits(uint64_t seed, uint64_t index) {
  return mix64(mix64(seed) + (index + 1) * 0x9e3779b97f4a7c15ULL);
}

// Uniform in [0, 1) with 24 bits of resolution (exact in float).
HIVE_HOST_DEVICE inline float random_uniform(uint64_t seed, uint64_t index) {
  return static_cast<float>(random_bits(seed, index) >> 40) * 0x1p-24f;
}

// Standard normal by Box-Muller from one 64-bit draw: 24 bits for the radius, 24 for the angle.
HIVE_HOST_DEVICE inline float random_normal(uint64_t seed, uint64_t index) {
  const uint64_t bits = random_bits(seed, index);
  const float radius_uniform = static_cast<float>((bits >> 40) + 1) * 0x1p-24f;  // (0, 1]
  const float angle_uniform = static_cast<float>((bits >> 16) & 0xffffffu) * 0x1p-24f;
  return ::sqrtf(-2.0f * ::logf(radius_uniform)) * ::cosf(6.2831853071795864f * angle_uniform);
}

}  // namespace hive
