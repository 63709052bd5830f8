// Layer normalization over the last axis, forward and backward. Rows are independent, so both
// run in parallel over rows; the weight and bias gradients (sums over rows) go through per-chunk
// partial sums.
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

int64_t row_grain(int64_t features) {
  return std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(features, 1));
}

}  // namespace

void CpuBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                            const Tensor& out, const Tensor& mean, const Tensor& rstd) {
  const int64_t features = x.size(-1);
  const int64_t rows = features == 0 ? 0 : x.numel() / features;
  float* row_mean = mean.data<float>();
  float* row_rstd = rstd.data<float>();
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* in = static_cast<const T*>(x.raw_data());
    const T* w = weight.defined() ? static_cast<const T*>(weight.raw_data()) : nullptr;
    const T* b = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    T* result = static_cast<T*>(out.raw_data());
    cpu::parallel_for(rows, row_grain(features), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const T* line = in + row * features;
        // Two passes (mean, then squared deviations): stable for rows with a large mean.
        float total = 0.0f;
#pragma omp simd reduction(+ : total)
        for (int64_t c = 0; c < features; ++c) total += cpu::load(line[c]);
        const float mu = total / static_cast<float>(features);
        float squares = 0.0f;
#pragma omp simd reduction(+ : squares)
        for (int64_t c = 0; c < features; ++c) {
          const float d = cpu::load(line[c]) - mu;
          squares += d * d;
        }
        const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(features) + eps);
        row_mean[row] = mu;
        row_rstd[row] = inv_std;
        T* target = result + row * features;
        for (int64_t c = 0; c < features; ++c) {
          float v = (cpu::load(line[c]) - mu) * inv_std;
          if (w != nullptr) v *= cpu::load(w[c]);
          if (b != nullptr) v += cpu::load(b[c]);
          target[c] = cpu::store<T>(v);
        }
      }
    });
  });
}

// With xhat = (x - mean) * rstd and g = grad_out * weight:
//   grad_x      = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   grad_weight = sum over rows of grad_out * xhat
//   grad_bias   = sum over rows of grad_out
void CpuBackend::layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                     const Tensor& mean, const Tensor& rstd, const Tensor& grad_x,
                                     const Tensor& grad_weight, const Tensor& grad_bias) {
  const int64_t features = x.size(-1);
  const int64_t rows = features == 0 ? 0 : x.numel() / features;
  const float* row_mean = mean.data<float>();
  const float* row_rstd = rstd.data<float>();
  const bool want_params = grad_weight.defined() || grad_bias.defined();
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* dy = static_cast<const T*>(grad_out.raw_data());
    const T* in = static_cast<const T*>(x.raw_data());
    const T* w = weight.defined() ? static_cast<const T*>(weight.raw_data()) : nullptr;
    T* dx = grad_x.defined() ? static_cast<T*>(grad_x.raw_data()) : nullptr;
    const int64_t chunks = cpu::parallel_chunks(rows, row_grain(features));
    const int64_t per_chunk = (rows + chunks - 1) / chunks;
    // Per chunk: features partial sums for grad_weight, then features for grad_bias.
    std::vector<float> partials(want_params ? static_cast<size_t>(chunks * 2 * features) : 0, 0.0f);
    cpu::parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
      for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
        float* partial_weight = want_params ? partials.data() + chunk * 2 * features : nullptr;
        float* partial_bias = want_params ? partial_weight + features : nullptr;
        for (int64_t row = chunk * per_chunk; row < std::min(rows, (chunk + 1) * per_chunk); ++row) {
          const T* g_line = dy + row * features;
          const T* x_line = in + row * features;
          const float mu = row_mean[row];
          const float inv_std = row_rstd[row];
          float mean_g = 0.0f;
          float mean_g_xhat = 0.0f;
          for (int64_t c = 0; c < features; ++c) {
            const float xhat = (cpu::load(x_line[c]) - mu) * inv_std;
            const float dy_c = cpu::load(g_line[c]);
            const float g = w != nullptr ? dy_c * cpu::load(w[c]) : dy_c;
            mean_g += g;
            mean_g_xhat += g * xhat;
            if (want_params) {
              partial_weight[c] += dy_c * xhat;
              partial_bias[c] += dy_c;
            }
          }
          if (dx == nullptr) continue;
          mean_g /= static_cast<float>(features);
          mean_g_xhat /= static_cast<float>(features);
          T* dx_line = dx + row * features;
          for (int64_t c = 0; c < features; ++c) {
            const float xhat = (cpu::load(x_line[c]) - mu) * inv_std;
            const float dy_c = cpu::load(g_line[c]);
            const float g = w != nullptr ? dy_c * cpu::load(w[c]) : dy_c;
            dx_line[c] = cpu::store<T>(inv_std * (g - mean_g - xhat * mean_g_xhat));
          }
        }
      }
    });
    if (!want_params) return;
    for (const auto& [target, offset] : {std::pair{&grad_weight, int64_t{0}}, std::pair{&grad_bias, features}}) {
      if (!target->defined()) continue;
      T* result = static_cast<T*>(target->raw_data());
      for (int64_t c = 0; c < features; ++c) {
        float total = 0.0f;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) {
          total += partials[static_cast<size_t>(chunk * 2 * features + offset + c)];
        }
        result[c] = cpu::store<T>(total);
      }
    }
  });
}

}  // namespace hive
