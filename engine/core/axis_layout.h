// A contiguous tensor seen as [outer, axis, inner] around one of its axes: the layout every
// along-an-axis kernel (reductions, softmax, index_select, concat, ...) works on.
#pragma once

#include <cstdint>

#include "engine/core/shape.h"

namespace hive {

struct AxisLayout {
  int64_t outer = 1;
  int64_t axis = 1;
  int64_t inner = 1;

  static AxisLayout around(const Shape& shape, int axis) {
    return {shape.numel(0, axis), shape[axis], shape.numel(axis + 1, shape.rank())};
  }
};

}  // namespace hive
