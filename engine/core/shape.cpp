#include "engine/core/shape.h"

#include <ostream>

#include "engine/core/error.h"

namespace hive {

Shape::Shape(std::initializer_list<int64_t> dims)
    : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  HIVE_REQUIRE(dims.size() <= kMaxRank, "Shape: rank ", dims.size(), " exceeds the maximum ",
               kMaxRank);
  for (int64_t dim : dims) {
    push_back(dim);
  }
}

int64_t Shape::back() const {
  HIVE_CHECK(rank_ > 0, "back() of a scalar shape");
  return dims_[static_cast<size_t>(rank_ - 1)];
}

int64_t Shape::numel() const { return numel(0, rank_); }

int64_t Shape::numel(int begin, int end) const {
  int64_t count = 1;
  for (int axis = begin; axis < end; ++axis) {
    HIVE_REQUIRE(!__builtin_mul_overflow(count, (*this)[axis], &count), "Shape ", *this,
                 ": element count overflows int64");
  }
  return count;
}

int Shape::normalize_axis(int axis, const char* op) const {
  const int normalized = axis < 0 ? axis + rank_ : axis;
  HIVE_REQUIRE(normalized >= 0 && normalized < rank_, op, ": axis ", axis,
               " is out of range for shape ", *this);
  return normalized;
}

void Shape::push_back(int64_t dim) {
  HIVE_REQUIRE(rank_ < kMaxRank, "Shape: rank exceeds the maximum ", kMaxRank);
  HIVE_REQUIRE(dim >= 0, "Shape: negative dimension ", dim);
  dims_[static_cast<size_t>(rank_++)] = dim;
}

Shape Shape::with(int axis, int64_t dim) const {
  Shape result = *this;
  HIVE_REQUIRE(dim >= 0, "Shape: negative dimension ", dim);
  result[axis] = dim;
  return result;
}

Shape Shape::without(int axis) const {
  Shape result;
  for (int i = 0; i < rank_; ++i) {
    if (i != axis) result.push_back((*this)[i]);
  }
  return result;
}

Shape Shape::inserted(int axis, int64_t dim) const {
  Shape result;
  for (int i = 0; i <= rank_; ++i) {
    if (i == axis) result.push_back(dim);
    if (i < rank_) result.push_back((*this)[i]);
  }
  return result;
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) {
  out << '[';
  for (int i = 0; i < shape.rank(); ++i) {
    out << (i ? ", " : "") << shape[i];
  }
  return out << ']';
}

}  // namespace hive
