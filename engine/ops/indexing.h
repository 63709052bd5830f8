// Indexing ops: the building blocks of embeddings and of MoE dispatch (index_select rows per
// expert) and combine (index_add them back). Index tensors are i32 or i64; every index is
// checked against its axis and an out-of-range one throws, naming it and its position.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

// Rows of weight [vocab, dim] picked by ids [...] -> [..., dim].
Tensor embedding(const Tensor& weight, const Tensor& ids);

// x sliced along `axis` at the positions of the 1-D `index`: result.size(axis) == index.numel().
Tensor index_select(const Tensor& x, int axis, const Tensor& index);

// A copy of `base` with src's slices added at the positions of the 1-D `index` along `axis`:
// result[..., index[j], ...] += src[..., j, ...]. Repeated indices accumulate. src has base's
// shape except along `axis`, where it has index.numel(). Differentiable in base and src.
Tensor index_add(const Tensor& base, int axis, const Tensor& index, const Tensor& src);

// result[o, j, i] = x[o, index[o, j, i], i] along `axis`: index has x's shape except along `axis`
// (PyTorch's gather with an index that spans x's other dimensions).
Tensor gather(const Tensor& x, int axis, const Tensor& index);

// A copy of `base` with result[o, index[o, j, i], i] += src[o, j, i]; index and src have the same
// shape, equal to base's except along `axis`.
Tensor scatter_add(const Tensor& base, int axis, const Tensor& index, const Tensor& src);

}  // namespace hive
