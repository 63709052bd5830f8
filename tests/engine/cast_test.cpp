// to_dtype: many tensors cast in one backend call, against Tensor::to one at a time.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/ops.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

std::vector<uint16_t> bits_of(const Tensor& half_precision) {
  std::vector<uint16_t> bits(static_cast<size_t>(half_precision.numel()));
  if (!bits.empty()) {
    std::memcpy(bits.data(), half_precision.raw_data(), bits.size() * sizeof(uint16_t));
  }
  return bits;
}

TEST(ToDtype, CastsEachTensorExactlyAsTensorToDoes) {
  const std::vector<Tensor> tensors{
      testing::random_tensor(Shape{3, 5}, 1), testing::random_tensor(Shape{1}, 2),
      testing::random_tensor(Shape{0, 4}, 3), testing::random_tensor(Shape{7}, 4, 1e4f)};
  for (const DType dtype : {DType::kBF16, DType::kF16}) {
    const std::vector<Tensor> cast = to_dtype(tensors, dtype);
    ASSERT_EQ(cast.size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor one = tensors[i].to(dtype);
      EXPECT_EQ(cast[i].dtype(), dtype);
      EXPECT_EQ(cast[i].shape(), tensors[i].shape());
      EXPECT_EQ(bits_of(cast[i]), bits_of(one)) << "tensor " << i;
    }
  }
}

TEST(ToDtype, LeavesUndefinedTensorsAndTensorsOfTheDtypeAsTheyAre) {
  const Tensor f32 = testing::random_tensor(Shape{4}, 5);
  const Tensor bf16 = testing::random_tensor(Shape{4}, 6).to(DType::kBF16);
  const std::vector<Tensor> cast = to_dtype(std::vector<Tensor>{f32, Tensor(), bf16}, DType::kBF16);
  EXPECT_EQ(cast[0].dtype(), DType::kBF16);
  EXPECT_FALSE(cast[1].defined());
  EXPECT_TRUE(cast[2].is_same(bf16));
  EXPECT_TRUE(to_dtype(std::vector<Tensor>{}, DType::kBF16).empty());
}

TEST(ToDtype, GradientsComeBackInEachSourceDtypeAndOnlyWhereTheyFlowed) {
  const Tensor a = testing::random_parameter(Shape{2, 3}, 7);
  const Tensor b = testing::random_parameter(Shape{5}, 8);
  const Tensor unused = testing::random_parameter(Shape{2}, 9);
  const Tensor weights = testing::random_tensor(Shape{2, 3}, 10);
  const std::vector<Tensor> cast = to_dtype(std::vector<Tensor>{a, b, unused}, DType::kBF16);
  const Tensor loss = add(sum(mul(cast[0], weights.to(DType::kBF16))), sum(scale(cast[1], 3.0f)));
  loss.backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().dtype(), DType::kF32);
  testing::expect_close(a.grad(), weights.to(DType::kBF16).to(DType::kF32), 0, 0);
  testing::expect_close(b.grad(), std::vector<float>(5, 3.0f), 0, 0);
  EXPECT_FALSE(unused.grad().defined());
}

}  // namespace
}  // namespace hive
