// Shape: the extents of a tensor, up to kMaxRank dimensions, stored inline (no heap).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>

namespace hive {

class Shape {
 public:
  static constexpr int kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int axis) const { return dims_[static_cast<size_t>(axis)]; }
  int64_t& operator[](int axis) { return dims_[static_cast<size_t>(axis)]; }
  // Python-style: back() is the last dimension. Requires rank() > 0.
  int64_t back() const;

  // Product of all dimensions (1 for a scalar). Throws if it overflows int64.
  int64_t numel() const;
  // Product of dimensions [begin, end).
  int64_t numel(int begin, int end) const;

  // Maps a possibly negative axis (-1 = last) into [0, rank); throws naming `op` if out of range.
  int normalize_axis(int axis, const char* op) const;

  void push_back(int64_t dim);
  Shape with(int axis, int64_t dim) const;      // copy with dims[axis] replaced
  Shape without(int axis) const;                // copy with `axis` removed
  Shape inserted(int axis, int64_t dim) const;  // copy with a new dimension before `axis`

  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// Prints [2, 3, 4]; a scalar prints [].
std::ostream& operator<<(std::ostream& out, const Shape& shape);

}  // namespace hive
