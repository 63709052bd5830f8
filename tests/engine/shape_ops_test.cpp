#include <gtest/gtest.h>

#include <vector>

#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

// Concatenation along `axis`, slab by slab: for each outer index, each piece's
// [length * inner] block in turn.
std::vector<float> concat_reference(const std::vector<Tensor>& pieces, int axis) {
  const Shape& first = pieces[0].shape();
  const int64_t outer = first.numel(0, axis);
  const int64_t inner = first.numel(axis + 1, first.rank());
  std::vector<float> out;
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor& piece : pieces) {
      const std::vector<float> values = piece.to_vector<float>();
      const int64_t slab = piece.shape()[axis] * inner;
      out.insert(out.end(), values.begin() + o * slab, values.begin() + (o + 1) * slab);
    }
  }
  return out;
}

TEST(Concat, HandComputedRowsAndColumns) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{2, 2});
  const Tensor b = Tensor::from_vector(std::vector<float>{5, 6}, Shape{1, 2});
  const Tensor c = Tensor::from_vector(std::vector<float>{7, 8}, Shape{2, 1});
  const Tensor rows = concat({a, b}, 0);
  EXPECT_EQ(rows.shape(), (Shape{3, 2}));
  testing::expect_close(rows, {1, 2, 3, 4, 5, 6});
  const Tensor columns = concat({a, c}, 1);
  EXPECT_EQ(columns.shape(), (Shape{2, 3}));
  testing::expect_close(columns, {1, 2, 7, 3, 4, 8});
}

TEST(Concat, EveryAxisMatchesReferenceIncludingAnEmptyPiece) {
  for (int axis : {0, 1, 2}) {
    SCOPED_TRACE(axis);
    const Shape base{2, 3, 4};
    const std::vector<Tensor> pieces{testing::random_tensor(base.with(axis, 2), 1),
                                     testing::random_tensor(base.with(axis, 0), 2),
                                     testing::random_tensor(base.with(axis, 3), 3)};
    const Tensor out = concat(pieces, axis);
    EXPECT_EQ(out.shape(), base.with(axis, 5));
    EXPECT_EQ(out.to_vector<float>(), concat_reference(pieces, axis));
  }
}

TEST(Concat, NegativeAxisAndSinglePiece) {
  const Tensor a = testing::random_tensor(Shape{2, 3}, 4);
  const Tensor b = testing::random_tensor(Shape{2, 1}, 5);
  EXPECT_EQ(concat({a, b}, -1).to_vector<float>(), concat({a, b}, 1).to_vector<float>());
  EXPECT_EQ(concat({a}, 0).to_vector<float>(), a.to_vector<float>());
}

TEST(Concat, WorksForEveryDtype) {
  const Tensor a = Tensor::from_vector(std::vector<int64_t>{1, 2}, Shape{2});
  const Tensor b = Tensor::from_vector(std::vector<int64_t>{3}, Shape{1});
  EXPECT_EQ(concat({a, b}, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  const Tensor h = Tensor::from_vector(std::vector<float>{0.5, 1.5}, Shape{1, 2}).to(DType::kF16);
  EXPECT_EQ(concat({h, h}, 0).to_vector<float>(), (std::vector<float>{0.5, 1.5, 0.5, 1.5}));
}

TEST(Concat, GradientsMatchFiniteDifferences) {
  for (int axis : {0, 1, 2}) {
    SCOPED_TRACE(axis);
    const Shape base{2, 2, 3};
    testing::expect_gradients_match(
        [axis](const std::vector<Tensor>& in) { return concat(in, axis); },
        {testing::random_parameter(base.with(axis, 1), 6),
         testing::random_parameter(base.with(axis, 2), 7), testing::random_parameter(base, 8)});
  }
}

TEST(Concat, RejectsMismatchedShapes) {
  EXPECT_TRUE(testing::throws_error(
      [] {
        concat({Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{2, 4})}, 0);
      },
      {"concat", "tensor 1", "[2, 4]", "[2, 3]", "axis 0"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        concat({Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{6})}, 0);
      },
      {"concat", "tensor 1", "[6]"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        concat({Tensor::zeros(Shape{2}), Tensor::zeros(Shape{2}, DType::kBF16)}, 0);
      },
      {"concat", "bf16", "[2]"}));
  EXPECT_TRUE(testing::throws_error([] { concat({Tensor::zeros(Shape{2})}, 1); },
                                    {"concat", "axis 1", "[2]"}));
  EXPECT_TRUE(testing::throws_error([] { concat(std::span<const Tensor>(), 0); }, {"concat"}));
}

TEST(Split, IsTheInverseOfConcat) {
  const Tensor x = testing::random_tensor(Shape{3, 4, 5}, 9);
  for (int axis : {0, 1, 2}) {
    SCOPED_TRACE(axis);
    const int64_t length = x.shape()[axis];
    const std::vector<int64_t> sizes{1, 0, length - 1};
    const std::vector<Tensor> pieces = split(x, axis, sizes);
    ASSERT_EQ(pieces.size(), 3u);
    for (size_t i = 0; i < pieces.size(); ++i) {
      EXPECT_EQ(pieces[i].shape(), x.shape().with(axis, sizes[i]));
    }
    EXPECT_EQ(concat_reference(pieces, axis), x.to_vector<float>());
    EXPECT_EQ(concat(pieces, axis).to_vector<float>(), x.to_vector<float>());
  }
}

TEST(Split, HandComputedColumns) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const std::vector<Tensor> pieces = split(x, 1, {2, 1});
  testing::expect_close(pieces[0], {1, 2, 4, 5});
  testing::expect_close(pieces[1], {3, 6});
}

TEST(Split, GradientsMatchFiniteDifferences) {
  testing::expect_gradients_match(
      [](const std::vector<Tensor>& in) {
        const std::vector<Tensor> pieces = split(in[0], 1, {2, 2});
        return mul(pieces[0], pieces[1]);
      },
      {testing::random_parameter(Shape{3, 4, 2}, 10)});
}

TEST(Split, UnusedPiecesGetZeroGradient) {
  const Tensor x = testing::random_parameter(Shape{2, 3}, 11);
  split(x, 1, {1, 2})[1].backward(Tensor::ones(Shape{2, 2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 1, 1, 0, 1, 1}));
}

TEST(Split, RejectsSizesThatDoNotAddUp) {
  const Tensor x = Tensor::zeros(Shape{3, 4});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        split(x, 0, {1, 1});
      },
      {"split", "add up to 2", "axis 0", "[3, 4]"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        split(x, 1, {3, 2});
      },
      {"split", "add up to 5", "axis 1", "[3, 4]"}));
  EXPECT_TRUE(testing::throws_error([&] { split(x, 0, {4, -1}); }, {"split", "negative", "-1"}));
  EXPECT_TRUE(testing::throws_error([&] { split(x, 2, {4}); }, {"split", "axis 2", "[3, 4]"}));
}

}  // namespace
}  // namespace hive
