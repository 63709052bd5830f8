// Mixture-of-Experts routing kernels: the stable counting sort that groups (row, choice) pairs by
// expert, and combine, its weighted inverse. Combine and its backward give every output row or
// grouped row to exactly one thread, so they need no locks and sum in a fixed order.
#include <algorithm>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/parallel.h"

namespace hive {

void CpuBackend::moe_plan(const Tensor& expert_indices, const Tensor& counts,
                          const Tensor& choice_slots, const Tensor& source_rows,
                          const Tensor& slot_positions) {
  const int64_t pairs = expert_indices.numel();
  const int64_t k = expert_indices.size(1);
  const int64_t experts = counts.numel() - 1;
  const int64_t* chosen = expert_indices.data<int64_t>();
  // Out-of-range experts count as expert `experts`: they sort after every real one.
  const auto bucket = [&](int64_t i) {
    return chosen[i] >= 0 && chosen[i] < experts ? chosen[i] : experts;
  };
  int64_t* per_expert = counts.data<int64_t>();
  std::fill_n(per_expert, experts + 1, int64_t{0});
  for (int64_t i = 0; i < pairs; ++i) ++per_expert[bucket(i)];
  std::vector<int64_t> next(static_cast<size_t>(experts + 1), 0);
  for (int64_t e = 1; e <= experts; ++e) {
    next[static_cast<size_t>(e)] = next[static_cast<size_t>(e - 1)] + per_expert[e - 1];
  }
  int64_t* slots = choice_slots.data<int64_t>();
  int64_t* rows = source_rows.data<int64_t>();
  int64_t* positions = slot_positions.data<int64_t>();
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t position = next[static_cast<size_t>(bucket(i))]++;
    slots[position] = i;
    rows[position] = i / k;
    positions[i] = position;
  }
}

void CpuBackend::moe_combine(const Tensor& grouped, const Tensor& weights,
                             const Tensor& slot_positions, const Tensor& out) {
  const int64_t rows = out.size(0);
  const int64_t width = out.size(1);
  const int64_t k = rows == 0 ? 0 : slot_positions.numel() / rows;
  const int64_t* positions = slot_positions.data<int64_t>();
  dispatch_floating(out.dtype(), [&]<typename T>() {
    const T* source = static_cast<const T*>(grouped.raw_data());
    const T* weight = weights.defined() ? static_cast<const T*>(weights.raw_data()) : nullptr;
    T* result = static_cast<T*>(out.raw_data());
    const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(width * k, 1));
    cpu::parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
      std::vector<float> sum(static_cast<size_t>(width));
      for (int64_t r = begin; r < end; ++r) {
        std::fill(sum.begin(), sum.end(), 0.0f);
        for (int64_t j = 0; j < k; ++j) {
          const float w = weight != nullptr ? cpu::load(weight[r * k + j]) : 1.0f;
          const T* row = source + positions[r * k + j] * width;
          for (int64_t c = 0; c < width; ++c) sum[static_cast<size_t>(c)] += w * cpu::load(row[c]);
        }
        for (int64_t c = 0; c < width; ++c) result[r * width + c] = cpu::store<T>(sum[static_cast<size_t>(c)]);
      }
    });
  });
}

void CpuBackend::moe_combine_backward(const Tensor& grad_out, const Tensor& grouped,
                                      const Tensor& weights, const Tensor& slot_positions,
                                      const Tensor& grad_grouped, const Tensor& grad_weights) {
  const int64_t rows = grad_out.size(0);
  const int64_t width = grad_out.size(1);
  const int64_t k = rows == 0 ? 0 : slot_positions.numel() / rows;
  const int64_t* positions = slot_positions.data<int64_t>();
  dispatch_floating(grad_out.dtype(), [&]<typename T>() {
    const T* gradient = static_cast<const T*>(grad_out.raw_data());
    const T* source = static_cast<const T*>(grouped.raw_data());
    const T* weight = static_cast<const T*>(weights.raw_data());
    T* grad_source = grad_grouped.defined() ? static_cast<T*>(grad_grouped.raw_data()) : nullptr;
    T* grad_weight = grad_weights.defined() ? static_cast<T*>(grad_weights.raw_data()) : nullptr;
    const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(width, 1));
    cpu::parallel_for(rows * k, grain, [&](int64_t begin, int64_t end) {
      for (int64_t slot = begin; slot < end; ++slot) {
        const T* g = gradient + (slot / k) * width;
        const int64_t position = positions[slot];
        if (grad_source != nullptr) {
          const float w = cpu::load(weight[slot]);
          T* target = grad_source + position * width;
          for (int64_t c = 0; c < width; ++c) target[c] = cpu::store<T>(w * cpu::load(g[c]));
        }
        if (grad_weight != nullptr) {
          const T* y = source + position * width;
          float dot = 0.0f;
          for (int64_t c = 0; c < width; ++c) dot += cpu::load(g[c]) * cpu::load(y[c]);
          grad_weight[slot] = cpu::store<T>(dot);
        }
      }
    });
  });
}

}  // namespace hive
