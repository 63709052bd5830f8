// Mixture-of-Experts gating: each row's k best experts on a grid, scored one expert at a time
// from the per-dimension scores, so the [n, prod(grid)] expert scores are never stored.
//
// The result is bit-identical to the composed ops topk(grid_scores(...)) + softmax on f32: every
// expert's score is added in grid_scores' order, the selection follows topk's total order, and
// the weights come from this backend's own softmax kernel.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

// Where each dimension's scores start in a row of dimension scores; the last entry is the width.
std::vector<int64_t> dimension_offsets(std::span<const int64_t> grid) {
  std::vector<int64_t> offsets(grid.size() + 1, 0);
  for (size_t d = 0; d < grid.size(); ++d) offsets[d + 1] = offsets[d] + grid[d];
  return offsets;
}

// Whether a later expert with score `candidate` ranks before an earlier one with score `held` in
// topk's order: a larger value, or NaN over a number. On equal values (NaN and NaN included) the
// earlier expert, with the lower index, stays first.
bool outranks(float candidate, float held) {
  return candidate > held || (std::isnan(candidate) && !std::isnan(held));
}

// A row's best experts so far, best first. Experts must be offered in increasing index order.
class BestExperts {
 public:
  explicit BestExperts(int64_t k) : k_(k) {}

  void offer(float score, int64_t expert) {
    if (count_ == k_ && !outranks(score, scores_[k_ - 1])) return;
    int64_t slot = count_ < k_ ? count_++ : k_ - 1;
    for (; slot > 0 && outranks(score, scores_[slot - 1]); --slot) {
      scores_[slot] = scores_[slot - 1];
      experts_[slot] = experts_[slot - 1];
    }
    scores_[slot] = score;
    experts_[slot] = expert;
  }

  float score(int64_t j) const { return scores_[j]; }
  int64_t expert(int64_t j) const { return experts_[j]; }

 private:
  int64_t k_;
  int64_t count_ = 0;
  std::array<float, kMaxGatingK> scores_{};
  std::array<int64_t, kMaxGatingK> experts_{};
};

int64_t expert_count(std::span<const int64_t> grid) {
  int64_t count = 1;
  for (int64_t size : grid) count *= size;
  return count;
}

// Offers every expert of one row, in index order. The experts that share all coordinates but the
// last share the partial sum of the other dimensions, which grid_scores adds first too:
// ((s0 + s1) + ...) + s_last.
template <typename T>
void rank_row_experts(const T* row, std::span<const int64_t> grid,
                      std::span<const int64_t> offsets, int64_t experts, BestExperts& best) {
  const size_t last = grid.size() - 1;
  const T* last_scores = row + offsets[last];
  if (last == 0) {
    for (int64_t c = 0; c < grid[0]; ++c) best.offer(cpu::load(last_scores[c]), c);
    return;
  }
  std::array<int64_t, kMaxGatingGridDimensions> coordinates{};  // of the dimensions before `last`
  for (int64_t first_expert = 0; first_expert < experts; first_expert += grid[last]) {
    float partial = cpu::load(row[coordinates[0]]);
    for (size_t d = 1; d < last; ++d) partial += cpu::load(row[offsets[d] + coordinates[d]]);
    for (int64_t c = 0; c < grid[last]; ++c) {
      best.offer(partial + cpu::load(last_scores[c]), first_expert + c);
    }
    for (size_t d = last; d-- > 0;) {  // the next coordinates in row-major order
      if (++coordinates[d] < grid[d]) break;
      coordinates[d] = 0;
    }
  }
}

}  // namespace

void CpuBackend::grid_topk(const Tensor& dimension_scores, std::span<const int64_t> grid,
                           int64_t k, const Tensor& indices, const Tensor& weights) {
  const int64_t rows = dimension_scores.size(0);
  const std::vector<int64_t> offsets = dimension_offsets(grid);
  const int64_t width = offsets.back();
  const int64_t experts = expert_count(grid);
  // The chosen scores, rounded to the dtype as topk's values are; softmax reads them from here.
  const Tensor chosen_scores = Tensor::empty(weights.shape(), weights.dtype(), Device::cpu());
  dispatch_floating(dimension_scores.dtype(), [&]<typename T>() {
    const T* in = static_cast<const T*>(dimension_scores.raw_data());
    T* top_scores = static_cast<T*>(chosen_scores.raw_data());
    int64_t* top_experts = indices.data<int64_t>();
    const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / experts);
    cpu::parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        BestExperts best(k);
        rank_row_experts(in + row * width, grid, offsets, experts, best);
        for (int64_t j = 0; j < k; ++j) {
          top_experts[row * k + j] = best.expert(j);
          top_scores[row * k + j] = cpu::store<T>(best.score(j));
        }
      }
    });
  });
  softmax(SoftmaxKind::kSoftmax, chosen_scores, AxisLayout{rows, k, 1}, weights);
}

void CpuBackend::grid_topk_backward(const Tensor& grad_weights, const Tensor& weights,
                                    const Tensor& indices, std::span<const int64_t> grid,
                                    const Tensor& grad_dimension_scores) {
  const int64_t rows = weights.size(0);
  const int64_t k = weights.size(1);
  const std::vector<int64_t> offsets = dimension_offsets(grid);
  const int64_t width = offsets.back();
  dispatch_floating(weights.dtype(), [&]<typename T>() {
    const T* w = static_cast<const T*>(weights.raw_data());
    const T* grad_w = static_cast<const T*>(grad_weights.raw_data());
    const int64_t* chosen = indices.data<int64_t>();
    T* out = static_cast<T*>(grad_dimension_scores.raw_data());
    const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max(width, k));
    cpu::parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
      // Several chosen experts may share a coordinate: their gradients add up in float here.
      std::vector<float> row_grad(static_cast<size_t>(width));
      for (int64_t row = begin; row < end; ++row) {
        const int64_t base = row * k;
        // Softmax backward, summed in softmax_backward's order: g_j = w_j * (gw_j - sum w_i gw_i).
        float total = 0.0f;
        for (int64_t j = 0; j < k; ++j) {
          total += cpu::load(grad_w[base + j]) * cpu::load(w[base + j]);
        }
        std::fill(row_grad.begin(), row_grad.end(), 0.0f);
        for (int64_t j = 0; j < k; ++j) {
          const float grad_score = cpu::load(w[base + j]) * (cpu::load(grad_w[base + j]) - total);
          int64_t expert = chosen[base + j];
          for (size_t d = grid.size(); d-- > 0;) {
            row_grad[static_cast<size_t>(offsets[d] + expert % grid[d])] += grad_score;
            expert /= grid[d];
          }
        }
        T* target = out + row * width;
        for (int64_t c = 0; c < width; ++c) {
          target[c] = cpu::store<T>(row_grad[static_cast<size_t>(c)]);
        }
      }
    });
  });
}

}  // namespace hive
