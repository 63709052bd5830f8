// The CUDA gating kernels (grid_topk forward and backward) against the CPU backend: the same
// experts exactly, weights and gradients within the dtype's tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/ops/moe_gating.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/engine/test_util.h"

namespace hive {
namespace {

using testing::expect_equal_indices;
using testing::expect_relative_close;
using testing::Outcome;
using testing::random_input;
using testing::tied_input;
using testing::run_on;
using testing::tolerance_for;

using testing::kFloatTypes;
const std::vector<std::vector<int64_t>> kGrids = {{64}, {8, 8}, {4, 4, 4}, {32, 32, 32}};
// 32 takes the kernel's path for large k.
constexpr int64_t kKs[] = {1, 2, 4, 8, 32};

int64_t grid_width(const std::vector<int64_t>& grid) {
  int64_t width = 0;
  for (int64_t size : grid) width += size;
  return width;
}

class MoeGatingKernelsTest : public testing::CudaTest {
 protected:
  // Forward and backward on the GPU against the CPU for the same scores.
  void expect_matches_cpu(const Tensor& scores, const std::vector<int64_t>& grid, int64_t k) {
    const double tolerance = tolerance_for(scores.dtype());
    const GridTopK expected = grid_topk(scores, grid, k);
    const GridTopK actual = grid_topk(scores.to(gpu()), grid, k);
    ASSERT_EQ(actual.weights.device(), gpu());
    ASSERT_EQ(actual.weights.dtype(), scores.dtype());
    expect_equal_indices(actual.indices, expected.indices);
    {
      SCOPED_TRACE("weights");
      expect_relative_close(actual.weights, expected.weights, tolerance);
    }
    const auto weights = [&](const std::vector<Tensor>& in) {
      return grid_topk(in[0], grid, k).weights;
    };
    const Outcome cpu_outcome = run_on(Device::cpu(), weights, {scores});
    const Outcome gpu_outcome = run_on(gpu(), weights, {scores});
    SCOPED_TRACE("gradient of the dimension scores");
    expect_relative_close(gpu_outcome.grads[0], cpu_outcome.grads[0], tolerance);
  }
};

TEST_F(MoeGatingKernelsTest, MatchesCpuOnEveryGrid) {
  uint64_t seed = 1;
  for (const DType dtype : kFloatTypes) {
    for (const std::vector<int64_t>& grid : kGrids) {
      for (const int64_t rows : {int64_t{1}, int64_t{7}, int64_t{300}}) {
        const Tensor scores = random_input(Shape{rows, grid_width(grid)}, seed++, dtype);
        for (const int64_t k : kKs) {
          SCOPED_TRACE(::testing::Message() << dtype << ", grid of " << grid.size()
                                            << " dimensions, first " << grid[0] << ", rows "
                                            << rows << ", k " << k);
          expect_matches_cpu(scores, grid, k);
        }
      }
    }
  }
}

TEST_F(MoeGatingKernelsTest, BreaksTiesAsTheCpuDoes) {
  uint64_t seed = 100;
  for (const DType dtype : kFloatTypes) {
    for (const std::vector<int64_t>& grid : kGrids) {
      const Tensor scores = tied_input(Shape{37, grid_width(grid)}, seed++, dtype);
      for (const int64_t k : kKs) {
        SCOPED_TRACE(::testing::Message() << dtype << ", grid of " << grid.size()
                                          << " dimensions, first " << grid[0] << ", k " << k);
        expect_matches_cpu(scores, grid, k);
      }
    }
  }
}

TEST_F(MoeGatingKernelsTest, RanksNanScoresFirstAsTheCpuDoes) {
  const std::vector<int64_t> grid = {4, 4, 4};
  for (const DType dtype : kFloatTypes) {
    Tensor values = random_input(Shape{6, 12}, 200);
    float* data = values.data<float>();
    data[0 * 12 + 5] = std::numeric_limits<float>::quiet_NaN();
    data[2 * 12 + 11] = std::numeric_limits<float>::quiet_NaN();
    data[2 * 12 + 0] = std::numeric_limits<float>::quiet_NaN();
    const Tensor scores = values.to(dtype);
    for (const int64_t k : {int64_t{1}, int64_t{2}, int64_t{8}}) {
      SCOPED_TRACE(::testing::Message() << dtype << ", k " << k);
      const GridTopK expected = grid_topk(scores, grid, k);
      const GridTopK actual = grid_topk(scores.to(gpu()), grid, k);
      expect_equal_indices(actual.indices, expected.indices);
      // Rows with a NaN expert have NaN weights on both; the others must match.
      expect_relative_close(actual.weights, expected.weights, tolerance_for(dtype));
    }
  }
}

TEST_F(MoeGatingKernelsTest, MatchesCpuOnManyRows) {
  const std::vector<int64_t> grid = {8, 8};
  uint64_t seed = 300;
  for (const DType dtype : kFloatTypes) {
    SCOPED_TRACE(::testing::Message() << dtype);
    expect_matches_cpu(random_input(Shape{16384, 16}, seed++, dtype), grid, 2);
  }
}

}  // namespace
}  // namespace hive
