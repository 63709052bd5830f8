// exp() written so that GCC vectorizes loops that call it (glibc's expf/tanhf are scalar calls
// unless built with -ffast-math, which would also break NaN/Inf checks elsewhere).
//
// Cephes' expf: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial, times 2^n
// built directly in the exponent bits. Relative error below 2e-7 over the float range; inputs
// are clamped to [-87.3, 88.7], so results stay finite and positive, and NaN stays NaN.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace hive::cpu {

struct FastExp {
  [[gnu::always_inline]] float operator()(float x) const;
};
// A function object rather than a function, so that passing it (gelu_tanh(x, fast_exp)) inlines.
inline constexpr FastExp fast_exp;

[[gnu::always_inline]] inline float FastExp::operator()(float x) const {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;   // ln 2 split in two for an exact n * ln2
  constexpr float kLn2Low = -2.12194440e-4f;
  // Selects and floor (one instruction with SSE4.1/AVX) rather than branches, so loops calling
  // this vectorize; a hand-written floor fix-up gets turned back into branches by GCC's jump
  // threading. NaN goes through the arithmetic as -87.3 (a float-to-int conversion of NaN would
  // be undefined) and is put back at the end.
  float clamped = x >= -87.3f ? x : -87.3f;
  clamped = clamped <= 88.7f ? clamped : 88.7f;
  const float n = std::floor(clamped * kLog2e + 0.5f);
  const float r = clamped - n * kLn2High - n * kLn2Low;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float exp_r = p * r * r + r + 1.0f;
  const float two_to_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  const float result = exp_r * two_to_n;
  return x == x ? result : x;
}

}  // namespace hive::cpu
