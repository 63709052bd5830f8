// NumPy broadcasting: shapes are aligned on the right; each pair of dimensions must be equal or
// one of them 1. Shared by the ops (to compute output shapes) and the backends (to walk inputs).
#pragma once

#include <array>
#include <cstdint>

#include "engine/core/shape.h"

namespace hive {

// The broadcast shape of a and b; throws hive::Error naming `op` and both shapes if they do not
// broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// How to walk two inputs while producing a broadcast output: the output's dimensions, collapsed
// where possible, with each input's element stride per dimension (0 along broadcast dimensions).
struct BroadcastPlan {
  int rank = 0;
  std::array<int64_t, Shape::kMaxRank> dims{};
  std::array<int64_t, Shape::kMaxRank> stride_a{};
  std::array<int64_t, Shape::kMaxRank> stride_b{};

  static BroadcastPlan make(const Shape& a, const Shape& b, const Shape& out);
};

}  // namespace hive
