// Kernels along one axis of a tensor seen as [outer, axis, inner]: reductions, softmax and the
// fused softmax + cross-entropy. Each (outer, inner) pair is one "line" of `axis` elements,
// `inner` apart; the common inner == 1 case gets contiguous loops.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/fast_math.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

// Calls line(base_offset) for every line, in parallel over lines.
template <typename Line>
void for_each_line(AxisLayout layout, const Line& line) {
  const int64_t lines = layout.outer * layout.inner;
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(layout.axis, 1));
  cpu::parallel_for(lines, grain, [&](int64_t begin, int64_t end) {
    for (int64_t l = begin; l < end; ++l) {
      const int64_t o = l / layout.inner;
      const int64_t i = l % layout.inner;
      line(o * layout.axis * layout.inner + i);
    }
  });
}

bool greater_or_first_nan(float candidate, float best) {
  return candidate > best || (std::isnan(candidate) && !std::isnan(best));
}

template <typename T>
void reduce_lines(ReduceOp op, const T* in, AxisLayout layout, T* out, int64_t* argmax) {
  const int64_t stride = layout.inner;
  for_each_line(layout, [&](int64_t base) {
    const int64_t result_index = (base / (layout.axis * layout.inner)) * layout.inner +
                                 base % layout.inner;
    if (op == ReduceOp::kMax) {
      float best = cpu::load(in[base]);
      int64_t best_index = 0;
      for (int64_t j = 1; j < layout.axis; ++j) {
        const float v = cpu::load(in[base + j * stride]);
        if (greater_or_first_nan(v, best)) {
          best = v;
          best_index = j;
        }
      }
      out[result_index] = cpu::store<T>(best);
      argmax[result_index] = best_index;
      return;
    }
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < layout.axis; ++j) total += cpu::load(in[base + j * stride]);
    if (op == ReduceOp::kMean) total /= static_cast<float>(layout.axis);
    out[result_index] = cpu::store<T>(total);
  });
}

// Sums columns: out[o, i] = sum_j in[o, j, i], vectorized across i (the inner > 1 fast path for
// sum and mean).
template <typename T>
void reduce_columns(ReduceOp op, const T* in, AxisLayout layout, T* out) {
  constexpr int64_t kColumns = 512;
  const int64_t column_blocks = (layout.inner + kColumns - 1) / kColumns;
  const float scale = op == ReduceOp::kMean ? 1.0f / static_cast<float>(layout.axis) : 1.0f;
  cpu::parallel_for(layout.outer * column_blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> totals(kColumns);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t o = task / column_blocks;
      const int64_t column_begin = (task % column_blocks) * kColumns;
      const int64_t count = std::min(kColumns, layout.inner - column_begin);
      std::fill(totals.begin(), totals.begin() + count, 0.0f);
      const T* block = in + o * layout.axis * layout.inner + column_begin;
      for (int64_t j = 0; j < layout.axis; ++j) {
        const T* row = block + j * layout.inner;
        for (int64_t c = 0; c < count; ++c) totals[static_cast<size_t>(c)] += cpu::load(row[c]);
      }
      T* target = out + o * layout.inner + column_begin;
      for (int64_t c = 0; c < count; ++c) target[c] = cpu::store<T>(totals[static_cast<size_t>(c)] * scale);
    }
  });
}

template <typename T>
void softmax_lines(SoftmaxKind kind, const T* in, AxisLayout layout, T* out) {
  const int64_t stride = layout.inner;
  for_each_line(layout, [&](int64_t base) {
    float max_value = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < layout.axis; ++j) {
      max_value = std::max(max_value, cpu::load(in[base + j * stride]));
    }
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < layout.axis; ++j) {
      total += cpu::fast_exp(cpu::load(in[base + j * stride]) - max_value);
    }
    if (kind == SoftmaxKind::kLogSoftmax) {
      const float log_total = max_value + std::log(total);
      for (int64_t j = 0; j < layout.axis; ++j) {
        out[base + j * stride] = cpu::store<T>(cpu::load(in[base + j * stride]) - log_total);
      }
    } else {
      const float inverse = 1.0f / total;
      for (int64_t j = 0; j < layout.axis; ++j) {
        out[base + j * stride] =
            cpu::store<T>(cpu::fast_exp(cpu::load(in[base + j * stride]) - max_value) * inverse);
      }
    }
  });
}

// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
template <typename T>
void softmax_backward_lines(SoftmaxKind kind, const T* y, const T* grad_y, AxisLayout layout,
                            T* grad_x) {
  const int64_t stride = layout.inner;
  for_each_line(layout, [&](int64_t base) {
    float total = 0.0f;
    for (int64_t j = 0; j < layout.axis; ++j) {
      const int64_t at = base + j * stride;
      total += kind == SoftmaxKind::kSoftmax ? cpu::load(grad_y[at]) * cpu::load(y[at])
                                             : cpu::load(grad_y[at]);
    }
    for (int64_t j = 0; j < layout.axis; ++j) {
      const int64_t at = base + j * stride;
      const float dy = cpu::load(grad_y[at]);
      const float value = cpu::load(y[at]);
      grad_x[at] = cpu::store<T>(kind == SoftmaxKind::kSoftmax ? value * (dy - total)
                                                               : dy - std::exp(value) * total);
    }
  });
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, AxisLayout layout, const Tensor& out,
                        const Tensor& argmax) {
  if (layout.axis == 0) {
    // Every line is empty (the op rejects kMax here), and reduce_lines would divide by the
    // zero line length to place its results. An empty mean is 0 / 0, as in PyTorch.
    fill(out, op == ReduceOp::kMean ? std::numeric_limits<double>::quiet_NaN() : 0.0);
    return;
  }
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* in = static_cast<const T*>(x.raw_data());
    T* result = static_cast<T*>(out.raw_data());
    if (op != ReduceOp::kMax && layout.inner > 1) {
      reduce_columns(op, in, layout, result);
    } else {
      reduce_lines(op, in, layout, result, argmax.defined() ? argmax.data<int64_t>() : nullptr);
    }
  });
}

void CpuBackend::softmax(SoftmaxKind kind, const Tensor& x, AxisLayout layout, const Tensor& out) {
  dispatch_floating(x.dtype(), [&]<typename T>() {
    softmax_lines(kind, static_cast<const T*>(x.raw_data()), layout, static_cast<T*>(out.raw_data()));
  });
}

void CpuBackend::softmax_backward(SoftmaxKind kind, const Tensor& y, const Tensor& grad_y,
                                  AxisLayout layout, const Tensor& grad_x) {
  dispatch_floating(y.dtype(), [&]<typename T>() {
    softmax_backward_lines(kind, static_cast<const T*>(y.raw_data()),
                           static_cast<const T*>(grad_y.raw_data()), layout,
                           static_cast<T*>(grad_x.raw_data()));
  });
}

void CpuBackend::cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                               const Tensor& log_sum_exp) {
  const int64_t rows = logits.size(0);
  const int64_t classes = logits.size(1);
  float* lse = log_sum_exp.data<float>();
  dispatch_floating(logits.dtype(), [&]<typename T>() {
    dispatch_index(labels.dtype(), [&]<typename I>() {
      const T* in = static_cast<const T*>(logits.raw_data());
      const I* label = static_cast<const I*>(labels.raw_data());
      const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(classes, 1));
      const int64_t chunks = cpu::parallel_chunks(rows, grain);
      std::vector<double> partials(static_cast<size_t>(chunks), 0.0);
      const int64_t per_chunk = (rows + chunks - 1) / chunks;
      cpu::parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
        for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
          double chunk_loss = 0.0;
          for (int64_t row = chunk * per_chunk; row < std::min(rows, (chunk + 1) * per_chunk); ++row) {
            const T* line = in + row * classes;
            float max_value = -std::numeric_limits<float>::infinity();
            for (int64_t c = 0; c < classes; ++c) max_value = std::max(max_value, cpu::load(line[c]));
            float total = 0.0f;
#pragma omp simd reduction(+ : total)
            for (int64_t c = 0; c < classes; ++c) total += cpu::fast_exp(cpu::load(line[c]) - max_value);
            lse[row] = max_value + std::log(total);
            chunk_loss += lse[row] - cpu::load(line[static_cast<int64_t>(label[row])]);
          }
          partials[static_cast<size_t>(chunk)] = chunk_loss;
        }
      });
      double total_loss = 0.0;
      for (double partial : partials) total_loss += partial;
      loss.data<float>()[0] = static_cast<float>(total_loss / static_cast<double>(rows));
    });
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& labels,
                                        const Tensor& log_sum_exp, const Tensor& grad_loss,
                                        const Tensor& grad_logits) {
  const int64_t rows = logits.size(0);
  const int64_t classes = logits.size(1);
  const float* lse = log_sum_exp.data<float>();
  const float scale = grad_loss.data<float>()[0] / static_cast<float>(rows);
  dispatch_floating(logits.dtype(), [&]<typename T>() {
    dispatch_index(labels.dtype(), [&]<typename I>() {
      const T* in = static_cast<const T*>(logits.raw_data());
      const I* label = static_cast<const I*>(labels.raw_data());
      T* out = static_cast<T*>(grad_logits.raw_data());
      const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(classes, 1));
      cpu::parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
          const auto target = static_cast<int64_t>(label[row]);
          for (int64_t c = 0; c < classes; ++c) {
            const float probability = cpu::fast_exp(cpu::load(in[row * classes + c]) - lse[row]);
            out[row * classes + c] =
                cpu::store<T>(scale * (probability - (c == target ? 1.0f : 0.0f)));
          }
        }
      });
    });
  });
}

}  // namespace hive
