// Mini-batches: shuffled ones cover the data once per epoch, reproducibly; sequential ones are
// views in dataset order.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/data/batches.h"
#include "test_util.h"

namespace hive {
namespace {

constexpr int64_t kRows = 10;

// Row r of the inputs is (r, 10 r) and its label is r, so every batch can be checked row by row.
Tensor make_inputs() {
  std::vector<float> values;
  for (int64_t r = 0; r < kRows; ++r) {
    values.push_back(static_cast<float>(r));
    values.push_back(static_cast<float>(10 * r));
  }
  return Tensor::from_vector(values, Shape{kRows, 2});
}

Tensor make_labels() { return Tensor::arange(kRows); }

// The labels of every batch of `epoch`, in order.
std::vector<int64_t> epoch_labels(data::ShuffledBatches& batches, int64_t epoch) {
  std::vector<int64_t> labels;
  for (int64_t index = 0; index < batches.batches_per_epoch(); ++index) {
    const std::vector<int64_t> batch = batches.batch(epoch, index).labels.to_vector<int64_t>();
    labels.insert(labels.end(), batch.begin(), batch.end());
  }
  return labels;
}

TEST(ShuffledBatches, CoversEveryRowExactlyOncePerEpoch) {
  data::ShuffledBatches batches(make_inputs(), make_labels(), 3, 1, data::DropLast::kNo);
  ASSERT_EQ(batches.batches_per_epoch(), 4);
  std::vector<int64_t> seen;
  for (int64_t index = 0; index < 4; ++index) {
    const data::Batch batch = batches.batch(0, index);
    const std::vector<int64_t> labels = batch.labels.to_vector<int64_t>();
    const std::vector<float> inputs = batch.inputs.to_vector<float>();
    EXPECT_EQ(labels.size(), index < 3 ? 3u : 1u);
    for (size_t i = 0; i < labels.size(); ++i) {
      EXPECT_EQ(inputs[2 * i], static_cast<float>(labels[i]));
      EXPECT_EQ(inputs[2 * i + 1], static_cast<float>(10 * labels[i]));
    }
    seen.insert(seen.end(), labels.begin(), labels.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> all(kRows);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(seen, all);
}

TEST(ShuffledBatches, IsDeterministicForSeedAndEpoch) {
  data::ShuffledBatches first(make_inputs(), make_labels(), 4, 2, data::DropLast::kNo);
  data::ShuffledBatches second(make_inputs(), make_labels(), 4, 2, data::DropLast::kNo);
  const std::vector<int64_t> epoch_three = epoch_labels(first, 3);
  epoch_labels(second, 0);  // another epoch in between must not disturb epoch 3's order
  EXPECT_EQ(epoch_labels(second, 3), epoch_three);
  EXPECT_EQ(epoch_labels(first, 3), epoch_three);
}

TEST(ShuffledBatches, DiffersBetweenEpochs) {
  data::ShuffledBatches batches(make_inputs(), make_labels(), 5, 3, data::DropLast::kNo);
  EXPECT_NE(epoch_labels(batches, 0), epoch_labels(batches, 1));
}

TEST(ShuffledBatches, DropLastSkipsThePartialBatch) {
  data::ShuffledBatches batches(make_inputs(), make_labels(), 3, 4, data::DropLast::kYes);
  ASSERT_EQ(batches.batches_per_epoch(), 3);
  EXPECT_EQ(epoch_labels(batches, 0).size(), 9u);
  EXPECT_TRUE(testing::throws_error([&] { batches.batch(0, 3); }, {"batch 3", "[0, 3)"}));
}

TEST(SequentialBatch, ReturnsViewsInDatasetOrder) {
  const Tensor inputs = make_inputs();
  const Tensor labels = make_labels();
  for (int64_t index = 0; index < 4; ++index) {
    const data::Batch batch = data::sequential_batch(inputs, labels, 3, index);
    const int64_t begin = 3 * index;
    const int64_t size = std::min<int64_t>(3, kRows - begin);
    std::vector<int64_t> expected(static_cast<size_t>(size));
    std::iota(expected.begin(), expected.end(), begin);
    EXPECT_EQ(batch.labels.to_vector<int64_t>(), expected);
    // A view: the batch's rows are the dataset's own memory.
    EXPECT_EQ(batch.inputs.raw_data(), inputs.data<float>() + 2 * begin);
    EXPECT_EQ(batch.labels.raw_data(), labels.data<int64_t>() + begin);
  }
}

}  // namespace
}  // namespace hive
