#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/core/random.h"
#include "engine/ops.h"
#include "test_util.h"

namespace hive {
namespace {

// An index tensor of `dtype` (i32 or i64) holding `values`.
Tensor index_tensor(const std::vector<int64_t>& values, const Shape& shape, DType dtype) {
  return Tensor::from_vector(values, shape).to(dtype);
}

// `count` indices drawn uniformly from [0, limit).
std::vector<int64_t> random_indices(int64_t count, int64_t limit, uint64_t seed) {
  Generator generator(seed);
  std::vector<int64_t> values;
  for (int64_t i = 0; i < count; ++i) {
    values.push_back(static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(limit))));
  }
  return values;
}

// A tensor seen as [outer, axis, inner] around `axis`.
struct Layout {
  int64_t outer;
  int64_t axis;
  int64_t inner;
};

Layout layout_of(const Shape& shape, int axis) {
  return {shape.numel(0, axis), shape[axis], shape.numel(axis + 1, shape.rank())};
}

// out[o, j, i] = x[o, index[j], i]
std::vector<float> index_select_reference(const Tensor& x, int axis,
                                          const std::vector<int64_t>& index) {
  const Layout l = layout_of(x.shape(), axis);
  const std::vector<float> in = x.to_vector<float>();
  std::vector<float> out;
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t position : index) {
      for (int64_t i = 0; i < l.inner; ++i) {
        out.push_back(in[static_cast<size_t>((o * l.axis + position) * l.inner + i)]);
      }
    }
  }
  return out;
}

// out[o, index[o, j, i], i] += src[o, j, i], starting from base.
std::vector<float> scatter_add_reference(const Tensor& base, int axis,
                                         const std::vector<int64_t>& index, const Tensor& src) {
  const Layout l = layout_of(base.shape(), axis);
  const int64_t count = src.shape()[axis];
  std::vector<float> out = base.to_vector<float>();
  const std::vector<float> from = src.to_vector<float>();
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t j = 0; j < count; ++j) {
      for (int64_t i = 0; i < l.inner; ++i) {
        const auto e = static_cast<size_t>((o * count + j) * l.inner + i);
        out[static_cast<size_t>((o * l.axis + index[e]) * l.inner + i)] += from[e];
      }
    }
  }
  return out;
}

// out[o, j, i] = x[o, index[o, j, i], i]
std::vector<float> gather_reference(const Tensor& x, int axis, const std::vector<int64_t>& index,
                                    const Shape& index_shape) {
  const Layout l = layout_of(x.shape(), axis);
  const int64_t count = index_shape[axis];
  const std::vector<float> in = x.to_vector<float>();
  std::vector<float> out;
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t j = 0; j < count; ++j) {
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t position = index[static_cast<size_t>((o * count + j) * l.inner + i)];
        out.push_back(in[static_cast<size_t>((o * l.axis + position) * l.inner + i)]);
      }
    }
  }
  return out;
}

TEST(Embedding, PicksRowsOfTheWeight) {
  const Tensor weight = Tensor::arange(15, DType::kF32).reshape(Shape{5, 3});
  for (DType dtype : {DType::kI32, DType::kI64}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor out = embedding(weight, index_tensor({4, 0, 2, 4}, Shape{2, 2}, dtype));
    EXPECT_EQ(out.shape(), (Shape{2, 2, 3}));
    testing::expect_close(out, {12, 13, 14, 0, 1, 2, 6, 7, 8, 12, 13, 14});
  }
}

TEST(Embedding, GradientAccumulatesRepeatedIds) {
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 3, 1, 1}, Shape{4});
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) { return embedding(in[0], ids); },
      {testing::random_parameter(Shape{4, 3}, 1)});
}

TEST(Embedding, RejectsIdsOutOfRange) {
  const Tensor weight = Tensor::zeros(Shape{5, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        embedding(weight, Tensor::from_vector(std::vector<int32_t>{0, 1, 5}, Shape{3}));
      },
      {"embedding", "index 5", "position 2", "[0, 5)"}));
  EXPECT_TRUE(testing::throws_error([&] { embedding(weight, Tensor::zeros(Shape{3})); },
                                    {"embedding", "f32", "i32 or i64"}));
}

TEST(IndexSelect, PicksSlicesAlongAnyAxis) {
  const Tensor x = testing::random_tensor(Shape{2, 4, 3}, 2);
  for (DType dtype : {DType::kI32, DType::kI64}) {
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " axis " << axis);
      const std::vector<int64_t> index =
          random_indices(5, x.shape()[axis], 30 + static_cast<uint64_t>(axis));
      const Tensor out = index_select(x, axis, index_tensor(index, Shape{5}, dtype));
      EXPECT_EQ(out.shape(), x.shape().with(axis, 5));
      EXPECT_EQ(out.to_vector<float>(), index_select_reference(x, axis, index));
    }
  }
}

TEST(IndexSelect, HandComputedColumns) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor index = Tensor::from_vector(std::vector<int64_t>{2, 0}, Shape{2});
  testing::expect_close(index_select(x, 1, index), {3, 1, 6, 4});
  testing::expect_close(index_select(x, -1, index), {3, 1, 6, 4});
  testing::expect_close(index_select(x, 0, Tensor::from_vector(std::vector<int64_t>{1}, Shape{1})),
                        {4, 5, 6});
}

TEST(IndexSelect, EmptyIndexGivesAnEmptyResult) {
  const Tensor empty = Tensor::zeros(Shape{0}, DType::kI64);
  EXPECT_EQ(index_select(Tensor::zeros(Shape{4, 2}), 1, empty).shape(), (Shape{4, 0}));
  EXPECT_EQ(embedding(Tensor::zeros(Shape{4, 2}), empty).shape(), (Shape{0, 2}));
  EXPECT_EQ(gather(Tensor::zeros(Shape{2, 3}), 1, Tensor::zeros(Shape{2, 0}, DType::kI32)).shape(),
            (Shape{2, 0}));
}

TEST(IndexSelect, GradientMatchesFiniteDifferences) {
  const Tensor index = Tensor::from_vector(std::vector<int32_t>{2, 0, 2}, Shape{3});
  for (int axis : {0, 1}) {
    SCOPED_TRACE(axis);
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return index_select(in[0], axis, index); },
        {testing::random_parameter(Shape{3, 3, 2}, 3)});
  }
}

TEST(IndexSelect, RejectsIndicesOutOfRange) {
  const Tensor x = Tensor::zeros(Shape{4, 2});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        index_select(x, 0, Tensor::from_vector(std::vector<int64_t>{0, 4}, Shape{2}));
      },
      {"index_select", "index 4", "position 1", "[0, 4)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] { index_select(x, 1, Tensor::from_vector(std::vector<int32_t>{-1}, Shape{1})); },
      {"index_select", "index -1", "position 0", "[0, 2)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        index_select(x, 0, Tensor::zeros(Shape{1, 1}, DType::kI64));
      },
      {"index_select", "[1, 1]", "rank 1"}));
}

TEST(IndexAdd, RepeatedIndicesAccumulate) {
  const Tensor base = Tensor::from_vector(std::vector<float>{1, 1, 1, 1, 1, 1}, Shape{3, 2});
  const Tensor src = Tensor::from_vector(std::vector<float>{10, 20, 30, 40, 50, 60}, Shape{3, 2});
  for (DType dtype : {DType::kI32, DType::kI64}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    const Tensor out = index_add(base, 0, index_tensor({0, 2, 0}, Shape{3}, dtype), src);
    testing::expect_close(out, {61, 81, 1, 1, 31, 41});
  }
  testing::expect_close(base, {1, 1, 1, 1, 1, 1});
}

TEST(IndexAdd, AddsAlongInnerAxes) {
  const Tensor base = testing::random_tensor(Shape{2, 3, 4}, 4);
  const Tensor src = testing::random_tensor(Shape{2, 5, 4}, 5);
  const std::vector<int64_t> index{1, 1, 0, 2, 1};
  const Tensor out = index_add(base, 1, Tensor::from_vector(index, Shape{5}), src);
  // index_add along an axis is scatter_add with the index repeated over the other axes.
  std::vector<int64_t> spanning;
  for (int64_t o = 0; o < 2; ++o) {
    for (int64_t position : index) {
      for (int64_t i = 0; i < 4; ++i) spanning.push_back(position);
    }
  }
  testing::expect_close(out, scatter_add_reference(base, 1, spanning, src));
}

TEST(IndexAdd, GradientsMatchFiniteDifferences) {
  const Tensor index = Tensor::from_vector(std::vector<int64_t>{1, 0, 1, 1}, Shape{4});
  testing::expect_gradients_match(
      [&](const std::vector<Tensor>& in) { return index_add(in[0], 1, index, in[1]); },
      {testing::random_parameter(Shape{2, 3, 2}, 6), testing::random_parameter(Shape{2, 4, 2}, 7)});
}

TEST(IndexAdd, RejectsBadArguments) {
  const Tensor base = Tensor::zeros(Shape{3, 2});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        index_add(base, 0, Tensor::from_vector(std::vector<int64_t>{3}, Shape{1}),
                  Tensor::zeros(Shape{1, 2}));
      },
      {"index_add", "index 3", "position 0", "[0, 3)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        index_add(base, 0, Tensor::from_vector(std::vector<int64_t>{0, 1}, Shape{2}),
                  Tensor::zeros(Shape{3, 2}));
      },
      {"index_add", "src", "[3, 2]", "[2, 2]"}));
}

TEST(Gather, MatchesHandLoopsOnEveryAxis) {
  const Tensor x = testing::random_tensor(Shape{2, 3, 4}, 8);
  for (DType dtype : {DType::kI32, DType::kI64}) {
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " axis " << axis);
      const Shape index_shape = x.shape().with(axis, 5);
      const std::vector<int64_t> index =
          random_indices(index_shape.numel(), x.shape()[axis], 9 + static_cast<uint64_t>(axis));
      const Tensor out = gather(x, axis, index_tensor(index, index_shape, dtype));
      EXPECT_EQ(out.shape(), index_shape);
      EXPECT_EQ(out.to_vector<float>(), gather_reference(x, axis, index, index_shape));
    }
  }
}

TEST(Gather, HandComputedRows) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor index = Tensor::from_vector(std::vector<int64_t>{2, 2, 0, 1}, Shape{2, 2});
  testing::expect_close(gather(x, 1, index), {3, 3, 4, 5});
}

TEST(Gather, GradientMatchesFiniteDifferences) {
  for (int axis : {0, 1, 2}) {
    SCOPED_TRACE(axis);
    const Shape x_shape{2, 3, 2};
    const Shape index_shape = x_shape.with(axis, 4);
    const Tensor index = Tensor::from_vector(
        random_indices(index_shape.numel(), x_shape[axis], 12 + static_cast<uint64_t>(axis)),
        index_shape);
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return gather(in[0], axis, index); },
        {testing::random_parameter(x_shape, 15)});
  }
}

TEST(Gather, RejectsBadIndices) {
  const Tensor x = Tensor::zeros(Shape{2, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        gather(x, 1, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3}, Shape{2, 2}));
      },
      {"gather", "index 3", "position 3", "[0, 3)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        gather(x, 1, Tensor::zeros(Shape{3, 1}, DType::kI64));
      },
      {"gather", "[3, 1]", "[2, 3]"}));
}

TEST(ScatterAdd, MatchesHandLoopsOnEveryAxis) {
  const Tensor base = testing::random_tensor(Shape{2, 3, 4}, 16);
  for (DType dtype : {DType::kI32, DType::kI64}) {
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " axis " << axis);
      const Shape src_shape = base.shape().with(axis, 5);
      const Tensor src = testing::random_tensor(src_shape, 17 + static_cast<uint64_t>(axis));
      const std::vector<int64_t> index =
          random_indices(src_shape.numel(), base.shape()[axis], 20 + static_cast<uint64_t>(axis));
      const Tensor out = scatter_add(base, axis, index_tensor(index, src_shape, dtype), src);
      EXPECT_EQ(out.shape(), base.shape());
      testing::expect_close(out, scatter_add_reference(base, axis, index, src));
    }
  }
}

TEST(ScatterAdd, HandComputedRepeatedTargets) {
  const Tensor base = Tensor::zeros(Shape{1, 3});
  const Tensor index = Tensor::from_vector(std::vector<int64_t>{2, 2, 0, 2}, Shape{1, 4});
  const Tensor src = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{1, 4});
  testing::expect_close(scatter_add(base, 1, index, src), {3, 0, 7});
}

TEST(ScatterAdd, GradientsMatchFiniteDifferences) {
  for (int axis : {0, 1, 2}) {
    SCOPED_TRACE(axis);
    const Shape base_shape{2, 3, 2};
    const Shape src_shape = base_shape.with(axis, 4);
    const Tensor index = Tensor::from_vector(
        random_indices(src_shape.numel(), base_shape[axis], 23 + static_cast<uint64_t>(axis)),
        src_shape);
    testing::expect_gradients_match(
        [&](const std::vector<Tensor>& in) { return scatter_add(in[0], axis, index, in[1]); },
        {testing::random_parameter(base_shape, 26), testing::random_parameter(src_shape, 27)});
  }
}

TEST(ScatterAdd, RejectsBadArguments) {
  const Tensor base = Tensor::zeros(Shape{2, 3});
  EXPECT_TRUE(testing::throws_error(
      [&] {
        scatter_add(base, 0, Tensor::from_vector(std::vector<int32_t>{0, 1, 2}, Shape{1, 3}),
                    Tensor::zeros(Shape{1, 3}));
      },
      {"scatter_add", "index 2", "position 2", "[0, 2)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        scatter_add(base, 0, Tensor::zeros(Shape{1, 3}, DType::kI64), Tensor::zeros(Shape{2, 3}));
      },
      {"scatter_add", "[1, 3]", "[2, 3]"}));
}

}  // namespace
}  // namespace hive
