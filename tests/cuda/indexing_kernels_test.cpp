// The CUDA indexing kernels against the CPU backend: index_select and index_add with repeated
// indices, embedding, gather and scatter_add, concat and split, and top-k with ties and NaN,
// forward and backward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/ops/indexing.h"
#include "engine/ops/shape_ops.h"
#include "engine/ops/topk.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_equal_indices;
using testing::expect_relative_close;
using testing::random_input;
using testing::tied_input;
using testing::tolerance_for;
using testing::TensorFunction;

using testing::kFloatTypes;
constexpr DType kIndexTypes[] = {DType::kI64, DType::kI32};
const Shape kCube{5, 37, 129};  // no extent is a multiple of a warp

// CPU indices in [0, limit) of an index dtype; with more of them than `limit`, some repeat.
Tensor random_indices(const Shape& shape, int64_t limit, uint64_t seed, DType dtype) {
  Generator generator(seed);
  std::vector<int64_t> indices(static_cast<size_t>(shape.numel()));
  for (int64_t& index : indices) {
    index = static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(limit)));
  }
  return Tensor::from_vector(indices, shape).to(dtype);
}

class IndexingKernelsTest : public testing::CudaTest {};

TEST_F(IndexingKernelsTest, IndexSelectMatchesCpuWithRepeatedIndices) {
  // Backward is index_add of the gradient, where the repeated indices accumulate.
  uint64_t seed = 1;
  for (const DType dtype : kFloatTypes) {
    for (const DType index_dtype : kIndexTypes) {
      for (const int axis : {0, 1, 2}) {
        for (const int64_t count : {int64_t{0}, int64_t{1}, int64_t{200}}) {
          SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis << ", " << count << " "
                                            << index_dtype << " indices");
          const Tensor index = random_indices(Shape{count}, kCube[axis], seed++, index_dtype);
          expect_matches_cpu(
              [&index, axis](const std::vector<Tensor>& in) {
                return index_select(in[0], axis, index.to(in[0].device()));
              },
              {random_input(kCube, seed++, dtype)}, tolerance_for(dtype));
        }
      }
    }
  }
}

TEST_F(IndexingKernelsTest, IndexAddAccumulatesRepeatedIndicesLikeCpu) {
  uint64_t seed = 100;
  for (const DType dtype : kFloatTypes) {
    for (const DType index_dtype : kIndexTypes) {
      for (const int axis : {0, 1, 2}) {
        SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis << ", " << index_dtype);
        const int64_t count = 3 * kCube[axis];  // every position about three times
        const Tensor index = random_indices(Shape{count}, kCube[axis], seed++, index_dtype);
        expect_matches_cpu(
            [&index, axis](const std::vector<Tensor>& in) {
              return index_add(in[0], axis, index.to(in[0].device()), in[1]);
            },
            {random_input(kCube, seed, dtype), random_input(kCube.with(axis, count), seed + 1, dtype)},
            tolerance_for(dtype));
        seed += 2;
      }
    }
  }
}

TEST_F(IndexingKernelsTest, EmbeddingMatchesCpu) {
  uint64_t seed = 200;
  for (const DType dtype : kFloatTypes) {
    for (const DType index_dtype : kIndexTypes) {
      SCOPED_TRACE(::testing::Message() << dtype << ", " << index_dtype << " ids");
      const Tensor ids = random_indices(Shape{7, 13}, 50, seed++, index_dtype);
      expect_matches_cpu(
          [&ids](const std::vector<Tensor>& in) { return embedding(in[0], ids.to(in[0].device())); },
          {random_input(Shape{50, 129}, seed++, dtype)}, tolerance_for(dtype));
    }
  }
}

TEST_F(IndexingKernelsTest, GatherAndScatterAddMatchCpu) {
  uint64_t seed = 300;
  for (const DType dtype : kFloatTypes) {
    for (const DType index_dtype : kIndexTypes) {
      for (const int axis : {0, 1, 2}) {
        SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis << ", " << index_dtype);
        // 11 picks per line: more than the 5 of axis 0, so indices repeat there.
        const Shape index_shape = kCube.with(axis, 11);
        const Tensor index = random_indices(index_shape, kCube[axis], seed++, index_dtype);
        expect_matches_cpu(
            [&index, axis](const std::vector<Tensor>& in) {
              return gather(in[0], axis, index.to(in[0].device()));
            },
            {random_input(kCube, seed++, dtype)}, tolerance_for(dtype));
        expect_matches_cpu(
            [&index, axis](const std::vector<Tensor>& in) {
              return scatter_add(in[0], axis, index.to(in[0].device()), in[1]);
            },
            {random_input(kCube, seed, dtype), random_input(index_shape, seed + 1, dtype)},
            tolerance_for(dtype));
        seed += 2;
      }
    }
  }
}

TEST_F(IndexingKernelsTest, ConcatMatchesCpuAlongEachAxis) {
  uint64_t seed = 400;
  for (const DType dtype : kFloatTypes) {
    for (const int axis : {0, 1, -1}) {
      SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis);
      const int normalized = kCube.normalize_axis(axis, "test");
      // Pieces of 3, 0, 1 and 8 along the axis: an empty piece must not shift the others.
      std::vector<Tensor> pieces;
      for (const int64_t size : {int64_t{3}, int64_t{0}, int64_t{1}, int64_t{8}}) {
        pieces.push_back(random_input(kCube.with(normalized, size), seed++, dtype));
      }
      expect_matches_cpu([axis](const std::vector<Tensor>& in) { return concat(in, axis); },
                         pieces, tolerance_for(dtype));
    }
  }
}

TEST_F(IndexingKernelsTest, SplitMatchesCpuAlongEachAxis) {
  uint64_t seed = 500;
  for (const DType dtype : kFloatTypes) {
    for (const int axis : {0, 1, -1}) {
      SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis);
      const int normalized = kCube.normalize_axis(axis, "test");
      const Tensor x = random_input(kCube.with(normalized, 12), seed++, dtype);
      // Pieces reordered (forward of split, backward of the concat), and one piece dropped: its
      // part of the gradient must be written as zeros.
      expect_matches_cpu(
          [axis](const std::vector<Tensor>& in) {
            const std::vector<Tensor> pieces = split(in[0], axis, {3, 0, 4, 5});
            return concat({pieces[3], pieces[1], pieces[0]}, axis);
          },
          {x}, tolerance_for(dtype));
    }
  }
}

TEST_F(IndexingKernelsTest, ConcatAndSplitMoveIntegerBytesLikeCpu) {
  for (const DType dtype : {DType::kI64, DType::kI32, DType::kU8}) {
    for (const int axis : {0, 1, -1}) {
      SCOPED_TRACE(::testing::Message() << dtype << " axis " << axis);
      const int normalized = kCube.normalize_axis(axis, "test");
      const Tensor a = random_indices(kCube.with(normalized, 3), 200, 600, dtype);
      const Tensor b = random_indices(kCube.with(normalized, 8), 200, 601, dtype);
      const Tensor joined = concat({a.to(gpu()), b.to(gpu())}, axis);
      expect_equal_indices(joined, concat({a, b}, axis));
      const std::vector<Tensor> pieces = split(joined, axis, {8, 3});
      const std::vector<Tensor> expected = split(concat({a, b}, axis), axis, {8, 3});
      expect_equal_indices(pieces[0], expected[0]);
      expect_equal_indices(pieces[1], expected[1]);
    }
  }
}

TEST_F(IndexingKernelsTest, TopkMatchesCpuIncludingTies) {
  uint64_t seed = 700;
  for (const DType dtype : kFloatTypes) {
    for (const int64_t width : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{1000}}) {
      for (const int64_t k : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{8}, width}) {
        if (k > width) continue;
        for (const int64_t rows : {int64_t{1}, int64_t{37}}) {
          // Distinct values, then only five distinct values: ties keep the lower index first.
          for (const bool ties : {false, true}) {
            SCOPED_TRACE(::testing::Message() << dtype << " [" << rows << ", " << width << "] k "
                                              << k << (ties ? " with ties" : ""));
            const Shape shape{rows, width};
            const Tensor x = ties ? tied_input(shape, seed++, dtype)
                                  : random_input(shape, seed++, dtype);
            const TopK expected = topk(x, k);
            const TopK actual = topk(x.to(gpu()), k);
            expect_equal_indices(actual.indices, expected.indices);
            expect_relative_close(actual.values, expected.values, 0.0);
            // Backward scatters the gradient to the chosen positions.
            expect_matches_cpu(
                [k](const std::vector<Tensor>& in) { return topk(in[0], k).values; }, {x},
                tolerance_for(dtype));
          }
        }
      }
    }
  }
}

TEST_F(IndexingKernelsTest, TopkRanksNanAsTheLargestValue) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint64_t seed = 800;
  for (const DType dtype : kFloatTypes) {
    for (const int64_t width : {int64_t{7}, int64_t{64}, int64_t{1000}}) {
      // NaN at column 3 of every row and also at the last column of every other row: two NaNs
      // must come out in index order.
      Tensor values = random_input(Shape{37, width}, seed++);
      float* data = values.data<float>();
      for (int64_t row = 0; row < 37; ++row) {
        data[row * width + 3] = nan;
        if (row % 2 == 0) data[row * width + width - 1] = nan;
      }
      const Tensor x = values.to(dtype);
      for (const int64_t k : {int64_t{1}, int64_t{2}, int64_t{8}, width}) {
        if (k > width) continue;
        SCOPED_TRACE(::testing::Message() << dtype << " width " << width << " k " << k);
        const TopK expected = topk(x, k);
        const TopK actual = topk(x.to(gpu()), k);
        expect_equal_indices(actual.indices, expected.indices);
        // The NaN positions of the values are implied by the indices; the rest must be equal.
        expect_relative_close(actual.values, expected.values, 0.0);
      }
    }
  }
}

}  // namespace
}  // namespace hive
