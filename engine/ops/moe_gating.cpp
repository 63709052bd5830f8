#include "engine/ops/moe_gating.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

constexpr const char* kOp = "grid_topk";

// {8, 8}: grids may have more dimensions than a Shape holds, so they are printed here.
std::string grid_text(std::span<const int64_t> grid) {
  std::ostringstream out;
  out << '{';
  for (size_t d = 0; d < grid.size(); ++d) out << (d == 0 ? "" : ", ") << grid[d];
  out << '}';
  return out.str();
}

// Checks the grid and returns its number of experts.
int64_t checked_expert_count(std::span<const int64_t> grid) {
  HIVE_REQUIRE(!grid.empty() && grid.size() <= kMaxGatingGridDimensions, kOp, ": grid ",
               grid_text(grid), " has ", grid.size(), " dimensions, expected 1 to ",
               kMaxGatingGridDimensions);
  constexpr int64_t kMaxExperts = std::numeric_limits<int32_t>::max();
  int64_t experts = 1;
  for (int64_t size : grid) {
    HIVE_REQUIRE(size > 0, kOp, ": grid ", grid_text(grid), " has a dimension of size ", size,
                 ", expected positive sizes");
    // Checked before multiplying, so the product cannot overflow.
    HIVE_REQUIRE(size <= kMaxExperts / experts, kOp, ": grid ", grid_text(grid),
                 " has more than 2^31 - 1 experts");
    experts *= size;
  }
  return experts;
}

}  // namespace

GridTopK grid_topk(const Tensor& dimension_scores, std::span<const int64_t> grid, int64_t k) {
  checks::floating(kOp, dimension_scores, "dimension_scores");
  checks::rank(kOp, dimension_scores, 2, "dimension_scores");
  const int64_t experts = checked_expert_count(grid);
  int64_t width = 0;
  for (int64_t size : grid) width += size;
  HIVE_REQUIRE(dimension_scores.size(1) == width, kOp, ": dimension_scores has shape ",
               dimension_scores.shape(), ", expected [n, ", width, "] for grid ", grid_text(grid));
  HIVE_REQUIRE(k >= 1 && k <= std::min(experts, kMaxGatingK), kOp, ": k = ", k,
               " is outside [1, ", std::min(experts, kMaxGatingK), "] for grid ", grid_text(grid),
               " (", experts, " experts; at most ", kMaxGatingK, " are chosen per row)");

  const Device device = dimension_scores.device();
  const int64_t rows = dimension_scores.size(0);
  GridTopK result{Tensor::empty(Shape{rows, k}, DType::kI64, device),
                  Tensor::empty(Shape{rows, k}, dimension_scores.dtype(), device)};
  backend_for(device).grid_topk(dimension_scores, grid, k, result.indices, result.weights);
  if (should_record({&dimension_scores})) {
    record_op(kOp, {&dimension_scores}, {&result.weights},
              [grid = std::vector<int64_t>(grid.begin(), grid.end()), width,
               weights = result.weights.detach(),
               indices = result.indices](const GradContext& context) -> std::vector<Tensor> {
                Tensor grad_scores = Tensor::empty(Shape{weights.size(0), width}, weights.dtype(),
                                                   weights.device());
                backend_for(weights.device())
                    .grid_topk_backward(context.grad(), weights, indices, grid, grad_scores);
                return {grad_scores};
              });
  }
  return result;
}

}  // namespace hive
