#include "engine/core/broadcast.h"

#include <algorithm>

#include "engine/core/error.h"

namespace hive {
namespace {

// Strides of `shape` in the frame of `out` (right-aligned), 0 where `shape` broadcasts.
std::array<int64_t, Shape::kMaxRank> broadcast_strides(const Shape& shape, const Shape& out) {
  std::array<int64_t, Shape::kMaxRank> strides{};
  int64_t stride = 1;
  const int offset = out.rank() - shape.rank();
  for (int axis = shape.rank() - 1; axis >= 0; --axis) {
    strides[static_cast<size_t>(axis + offset)] = shape[axis] == 1 ? 0 : stride;
    stride *= shape[axis];
  }
  return strides;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int axis = 0; axis < rank; ++axis) {
    const int axis_a = axis - (rank - a.rank());
    const int axis_b = axis - (rank - b.rank());
    const int64_t dim_a = axis_a >= 0 ? a[axis_a] : 1;
    const int64_t dim_b = axis_b >= 0 ? b[axis_b] : 1;
    HIVE_REQUIRE(dim_a == dim_b || dim_a == 1 || dim_b == 1, op, ": shapes ", a, " and ", b,
                 " do not broadcast (dimension ", axis, ": ", dim_a, " vs ", dim_b, ")");
    out.push_back(dim_a == 1 ? dim_b : dim_a);
  }
  return out;
}

BroadcastPlan BroadcastPlan::make(const Shape& a, const Shape& b, const Shape& out) {
  const auto strides_a = broadcast_strides(a, out);
  const auto strides_b = broadcast_strides(b, out);
  BroadcastPlan plan;
  // Walk from the innermost dimension outwards, merging a dimension into the previous one when
  // both inputs stay contiguous across the boundary (or stay broadcast).
  for (int axis = out.rank() - 1; axis >= 0; --axis) {
    const auto index = static_cast<size_t>(axis);
    const int64_t dim = out[axis];
    if (dim == 1) continue;  // contributes nothing to the walk
    if (plan.rank > 0) {
      const auto last = static_cast<size_t>(plan.rank - 1);
      const bool merge_a = strides_a[index] == plan.stride_a[last] * plan.dims[last];
      const bool merge_b = strides_b[index] == plan.stride_b[last] * plan.dims[last];
      if (merge_a && merge_b) {
        plan.dims[last] *= dim;
        continue;
      }
    }
    const auto next = static_cast<size_t>(plan.rank++);
    plan.dims[next] = dim;
    plan.stride_a[next] = strides_a[index];
    plan.stride_b[next] = strides_b[index];
  }
  // Built innermost-first; store outermost-first like shapes.
  std::reverse(plan.dims.begin(), plan.dims.begin() + plan.rank);
  std::reverse(plan.stride_a.begin(), plan.stride_a.begin() + plan.rank);
  std::reverse(plan.stride_b.begin(), plan.stride_b.begin() + plan.rank);
  return plan;
}

}  // namespace hive
