#include "engine/data/batches.h"

#include <numeric>

#include "engine/core/counter_random.h"
#include "engine/core/random.h"
#include "engine/ops/indexing.h"

namespace hive::data {

ShuffledBatches::ShuffledBatches(Tensor inputs, Tensor labels, int64_t batch_size, uint64_t seed,
                                 DropLast drop_last)
    : inputs_(std::move(inputs)), labels_(std::move(labels)), batch_size_(batch_size), seed_(seed),
      drop_last_(drop_last) {
  HIVE_REQUIRE(inputs_.defined() && labels_.defined() && inputs_.rank() >= 1 &&
                   labels_.rank() == 1 && inputs_.size(0) == labels_.size(0),
               "ShuffledBatches: inputs and labels must have the same number of rows");
  HIVE_REQUIRE(batch_size > 0, "ShuffledBatches: batch size ", batch_size, " must be positive");
}

int64_t ShuffledBatches::batches_per_epoch() const {
  const int64_t rows = inputs_.size(0);
  return drop_last_ == DropLast::kYes ? rows / batch_size_ : (rows + batch_size_ - 1) / batch_size_;
}

const std::vector<int64_t>& ShuffledBatches::permutation(int64_t epoch) {
  if (epoch != cached_epoch_) {
    order_.resize(static_cast<size_t>(inputs_.size(0)));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    Generator generator(mix64(seed_) ^ static_cast<uint64_t>(epoch));
    for (size_t i = order_.size(); i > 1; --i) {  // Fisher-Yates
      std::swap(order_[i - 1], order_[generator.next_below(i)]);
    }
    cached_epoch_ = epoch;
  }
  return order_;
}

Batch ShuffledBatches::batch(int64_t epoch, int64_t index) {
  HIVE_REQUIRE(index >= 0 && index < batches_per_epoch(), "ShuffledBatches: batch ", index,
               " is outside [0, ", batches_per_epoch(), ")");
  const std::vector<int64_t>& order = permutation(epoch);
  const int64_t begin = index * batch_size_;
  const int64_t end = std::min<int64_t>(begin + batch_size_, inputs_.size(0));
  const Tensor rows = Tensor::from_vector(
      std::span<const int64_t>(order.data() + begin, static_cast<size_t>(end - begin)), Shape{end - begin});
  return {index_select(inputs_, 0, rows), index_select(labels_, 0, rows)};
}

Batch on_device(const Batch& batch, Device device) {
  return {batch.inputs.to(device), batch.labels.to(device)};
}

Batch sequential_batch(const Tensor& inputs, const Tensor& labels, int64_t batch_size, int64_t index) {
  const int64_t begin = index * batch_size;
  const int64_t end = std::min<int64_t>(begin + batch_size, inputs.size(0));
  HIVE_REQUIRE(batch_size > 0 && begin >= 0 && begin < end, "sequential_batch: batch ", index,
               " of size ", batch_size, " is outside the ", inputs.size(0), " rows");
  return {inputs.rows(begin, end), labels.rows(begin, end)};
}

}  // namespace hive::data
