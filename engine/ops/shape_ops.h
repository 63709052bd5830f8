// Joining and splitting tensors along an axis.
#pragma once

#include <span>
#include <vector>

#include "engine/core/tensor.h"

namespace hive {

// Joins tensors along `axis`; all have the same dtype, device, and shape except along `axis`.
Tensor concat(std::span<const Tensor> tensors, int axis);
inline Tensor concat(std::initializer_list<Tensor> tensors, int axis) {
  return concat(std::span<const Tensor>(tensors.begin(), tensors.size()), axis);
}

// Cuts x along `axis` into pieces of the given sizes, which must add up to x.size(axis).
std::vector<Tensor> split(const Tensor& x, int axis, std::span<const int64_t> sizes);
inline std::vector<Tensor> split(const Tensor& x, int axis, std::initializer_list<int64_t> sizes) {
  return split(x, axis, std::span<const int64_t>(sizes.begin(), sizes.size()));
}

}  // namespace hive
