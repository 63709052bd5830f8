// The sizes of one attention call (Backend::attention), read off q [b, s_q, heads, d] and
// k [b, s_k, heads, d] in the BSHD layout, with the strides every backend's kernels need.
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"

namespace hive {

struct AttentionShape {
  int64_t batch = 0;
  int64_t query_length = 0;
  int64_t key_length = 0;
  int64_t heads = 0;
  int64_t head_size = 0;

  static AttentionShape of(const Tensor& q, const Tensor& k) {
    return {q.size(0), q.size(1), k.size(1), q.size(2), q.size(3)};
  }
  // Elements between consecutive rows of one (batch, head) matrix.
  int64_t row_stride() const { return heads * head_size; }
  // Where head `head` of batch index `index` starts in a [b, length, heads, d] tensor.
  int64_t head_offset(int64_t index, int64_t head, int64_t length) const {
    return (index * length * heads + head) * head_size;
  }
  int64_t pairs() const { return batch * heads; }  // (batch, head) matrices
  int64_t score_rows() const { return pairs() * query_length; }
  int64_t scores() const { return score_rows() * key_length; }
};

}  // namespace hive
