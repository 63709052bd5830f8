// Shuffled mini-batches over a labeled dataset, reproducible from (seed, epoch, index): a run
// resumed from a checkpoint sees exactly the batches it would have seen.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace hive::data {

enum class DropLast : uint8_t { kNo, kYes };

struct Batch {
  Tensor inputs;  // rows of the dataset's inputs
  Tensor labels;
};

// The batch's tensors moved to `device` (datasets live on the CPU; a model may be on a GPU).
Batch on_device(const Batch& batch, Device device);

class ShuffledBatches {
 public:
  // inputs [n, ...] and labels [n]. With DropLast::kYes a final partial batch is skipped.
  ShuffledBatches(Tensor inputs, Tensor labels, int64_t batch_size, uint64_t seed,
                  DropLast drop_last = DropLast::kYes);

  int64_t batches_per_epoch() const;
  // Batch `index` of `epoch`: each epoch is a fresh permutation of all rows.
  Batch batch(int64_t epoch, int64_t index);

 private:
  const std::vector<int64_t>& permutation(int64_t epoch);

  Tensor inputs_;
  Tensor labels_;
  int64_t batch_size_;
  uint64_t seed_;
  DropLast drop_last_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> order_;
};

// Batches in dataset order (for evaluation): the last one may be smaller.
Batch sequential_batch(const Tensor& inputs, const Tensor& labels, int64_t batch_size, int64_t index);

}  // namespace hive::data
