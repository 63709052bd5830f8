// Elementwise kernels: activations and their derivatives, broadcasting binary ops, affine maps,
// broadcast reductions (sum_to), squared norms and dropout.
#include <cmath>
#include <vector>

#include "engine/core/activation_math.h"
#include "engine/core/broadcast.h"
#include "engine/core/counter_random.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/fast_math.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

template <typename T, typename F>
void map_unary(const Tensor& x, const Tensor& out, const F& f) {
  const T* in = static_cast<const T*>(x.raw_data());
  T* result = static_cast<T*>(out.raw_data());
  cpu::parallel_for(x.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) result[i] = cpu::store<T>(f(cpu::load(in[i])));
  });
}

// grad_x[i] = grad_out[i] * f(x[i], y[i]).
template <typename T, typename F>
void map_derivative(const Tensor& grad_out, const Tensor& x, const Tensor& y, const Tensor& grad_x,
                    const F& derivative) {
  const T* g = static_cast<const T*>(grad_out.raw_data());
  const T* in = static_cast<const T*>(x.raw_data());
  const T* out = static_cast<const T*>(y.raw_data());
  T* result = static_cast<T*>(grad_x.raw_data());
  cpu::parallel_for(x.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      result[i] = cpu::store<T>(cpu::load(g[i]) * derivative(cpu::load(in[i]), cpu::load(out[i])));
    }
  });
}

template <typename T, typename F>
void map_binary(const Tensor& a, const Tensor& b, const Tensor& out, const F& f) {
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* po = static_cast<T*>(out.raw_data());
  if (out.numel() == 0) return;  // the plan's innermost run may have length 0
  const BroadcastPlan plan = BroadcastPlan::make(a.shape(), b.shape(), out.shape());
  if (plan.rank == 0) {
    if (out.numel() == 1) po[0] = cpu::store<T>(f(cpu::load(pa[0]), cpu::load(pb[0])));
    return;
  }
  const int last = plan.rank - 1;
  const int64_t inner = plan.dims[static_cast<size_t>(last)];
  const int64_t stride_a = plan.stride_a[static_cast<size_t>(last)];
  const int64_t stride_b = plan.stride_b[static_cast<size_t>(last)];
  const int64_t outer = out.numel() / inner;
  // One contiguous run of the innermost dimension; the stride-0 operand is a repeated scalar.
  auto run = [&](const T* ra, const T* rb, T* ro, int64_t count) {
    if (stride_a == 1 && stride_b == 1) {
      for (int64_t i = 0; i < count; ++i) ro[i] = cpu::store<T>(f(cpu::load(ra[i]), cpu::load(rb[i])));
    } else if (stride_a == 1) {
      const float vb = cpu::load(rb[0]);
      for (int64_t i = 0; i < count; ++i) ro[i] = cpu::store<T>(f(cpu::load(ra[i]), vb));
    } else if (stride_b == 1) {
      const float va = cpu::load(ra[0]);
      for (int64_t i = 0; i < count; ++i) ro[i] = cpu::store<T>(f(va, cpu::load(rb[i])));
    } else {
      const T value = cpu::store<T>(f(cpu::load(ra[0]), cpu::load(rb[0])));
      for (int64_t i = 0; i < count; ++i) ro[i] = value;
    }
  };
  if (outer == 1) {
    cpu::parallel_for(inner, cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      run(pa + begin * stride_a, pb + begin * stride_b, po + begin, end - begin);
    });
    return;
  }
  const int64_t grain_rows = std::max<int64_t>(1, cpu::kElementwiseGrain / inner);
  cpu::parallel_for(outer, grain_rows, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      // Decompose the row index over the outer dimensions to find each input's offset.
      int64_t remaining = row;
      int64_t offset_a = 0;
      int64_t offset_b = 0;
      for (int axis = last - 1; axis >= 0; --axis) {
        const auto index = static_cast<size_t>(axis);
        const int64_t coordinate = remaining % plan.dims[index];
        remaining /= plan.dims[index];
        offset_a += coordinate * plan.stride_a[index];
        offset_b += coordinate * plan.stride_b[index];
      }
      run(pa + offset_a, pb + offset_b, po + row * inner, inner);
    }
  });
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out) {
  dispatch_floating(x.dtype(), [&]<typename T>() {
    switch (op) {
      case UnaryOp::kRelu: return map_unary<T>(x, out, [](float v) { return v > 0.0f ? v : 0.0f; });
      case UnaryOp::kGelu: return map_unary<T>(x, out, [](float v) { return gelu_tanh(v, cpu::fast_exp); });
      case UnaryOp::kTanh: return map_unary<T>(x, out, [](float v) { return std::tanh(v); });
      case UnaryOp::kSigmoid: return map_unary<T>(x, out, [](float v) { return sigmoid_of(v, cpu::fast_exp); });
      case UnaryOp::kExp: return map_unary<T>(x, out, [](float v) { return std::exp(v); });
      case UnaryOp::kLog: return map_unary<T>(x, out, [](float v) { return std::log(v); });
      case UnaryOp::kNeg: return map_unary<T>(x, out, [](float v) { return -v; });
      case UnaryOp::kSquare: return map_unary<T>(x, out, [](float v) { return v * v; });
      case UnaryOp::kSqrt: return map_unary<T>(x, out, [](float v) { return std::sqrt(v); });
    }
  });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& grad_out, const Tensor& x,
                                const Tensor& y, const Tensor& grad_x) {
  dispatch_floating(x.dtype(), [&]<typename T>() {
    switch (op) {
      case UnaryOp::kRelu:
        return map_derivative<T>(grad_out, x, y, grad_x,
                                 [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; });
      case UnaryOp::kGelu:
        return map_derivative<T>(grad_out, x, y, grad_x,
                                 [](float v, float) { return gelu_tanh_derivative(v, cpu::fast_exp); });
      case UnaryOp::kTanh:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float, float t) { return 1.0f - t * t; });
      case UnaryOp::kSigmoid:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float, float s) { return s * (1.0f - s); });
      case UnaryOp::kExp:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float, float e) { return e; });
      case UnaryOp::kLog:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float v, float) { return 1.0f / v; });
      case UnaryOp::kNeg:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float, float) { return -1.0f; });
      case UnaryOp::kSquare:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float v, float) { return 2.0f * v; });
      case UnaryOp::kSqrt:
        return map_derivative<T>(grad_out, x, y, grad_x, [](float, float r) { return 0.5f / r; });
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(a.dtype(), [&]<typename T>() {
    switch (op) {
      case BinaryOp::kAdd: return map_binary<T>(a, b, out, [](float x, float y) { return x + y; });
      case BinaryOp::kSub: return map_binary<T>(a, b, out, [](float x, float y) { return x - y; });
      case BinaryOp::kMul: return map_binary<T>(a, b, out, [](float x, float y) { return x * y; });
      case BinaryOp::kDiv: return map_binary<T>(a, b, out, [](float x, float y) { return x / y; });
    }
  });
}

void CpuBackend::affine(const Tensor& x, float scale, float shift, const Tensor& out) {
  dispatch_floating(x.dtype(), [&]<typename T>() {
    map_unary<T>(x, out, [scale, shift](float v) { return scale * v + shift; });
  });
}

void CpuBackend::sum_to(const Tensor& x, const Tensor& out) {
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* in = static_cast<const T*>(x.raw_data());
    T* result = static_cast<T*>(out.raw_data());
    // Walk x; stride_b maps each element of x to the element of out it is summed into.
    const BroadcastPlan plan = BroadcastPlan::make(x.shape(), out.shape(), x.shape());
    const int64_t out_count = out.numel();
    if (plan.rank == 0 || x.numel() == 0) {
      for (int64_t i = 0; i < out_count; ++i) result[i] = cpu::store<T>(x.numel() ? cpu::load(in[0]) : 0.0f);
      return;
    }
    const int last = plan.rank - 1;
    const int64_t inner = plan.dims[static_cast<size_t>(last)];
    const int64_t inner_stride = plan.stride_b[static_cast<size_t>(last)];
    const int64_t outer = x.numel() / inner;
    const int64_t grain_rows = std::max<int64_t>(1, cpu::kElementwiseGrain / inner);
    // Each chunk of rows sums into its own float partial; partials are added at the end.
    const int64_t chunks = cpu::parallel_chunks(outer, grain_rows);
    std::vector<float> partials(static_cast<size_t>(chunks * out_count), 0.0f);
    const int64_t rows_per_chunk = (outer + chunks - 1) / chunks;
    cpu::parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
      for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
        float* partial = partials.data() + chunk * out_count;
        const int64_t row_end = std::min(outer, (chunk + 1) * rows_per_chunk);
        for (int64_t row = chunk * rows_per_chunk; row < row_end; ++row) {
          int64_t remaining = row;
          int64_t offset = 0;
          for (int axis = last - 1; axis >= 0; --axis) {
            const auto index = static_cast<size_t>(axis);
            offset += (remaining % plan.dims[index]) * plan.stride_b[index];
            remaining /= plan.dims[index];
          }
          const T* source = in + row * inner;
          float* target = partial + offset;
          if (inner_stride == 1) {
            for (int64_t i = 0; i < inner; ++i) target[i] += cpu::load(source[i]);
          } else {
            float total = 0.0f;
            for (int64_t i = 0; i < inner; ++i) total += cpu::load(source[i]);
            target[0] += total;
          }
        }
      }
    });
    for (int64_t i = 0; i < out_count; ++i) {
      float total = 0.0f;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partials[static_cast<size_t>(chunk * out_count + i)];
      result[i] = cpu::store<T>(total);
    }
  });
}

void CpuBackend::sum_of_squares(std::span<const Tensor> tensors, const Tensor& out) {
  float* result = out.data<float>();
  for (size_t t = 0; t < tensors.size(); ++t) {
    const Tensor& x = tensors[t];
    double total = 0.0;
    dispatch_floating(x.dtype(), [&]<typename T>() {
      const T* in = static_cast<const T*>(x.raw_data());
      const int64_t chunks = cpu::parallel_chunks(x.numel(), cpu::kElementwiseGrain);
      std::vector<double> partials(static_cast<size_t>(chunks), 0.0);
      const int64_t per_chunk = (x.numel() + chunks - 1) / chunks;
      cpu::parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
        for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
          float sum = 0.0f;
          const int64_t end = std::min(x.numel(), (chunk + 1) * per_chunk);
#pragma omp simd reduction(+ : sum)
          for (int64_t i = chunk * per_chunk; i < end; ++i) {
            const float v = cpu::load(in[i]);
            sum += v * v;
          }
          partials[static_cast<size_t>(chunk)] = sum;
        }
      });
      for (double partial : partials) total += partial;
    });
    result[t] = static_cast<float>(total);
  }
}

void CpuBackend::dropout(const Tensor& x, float p, uint64_t seed, const Tensor& out) {
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* in = static_cast<const T*>(x.raw_data());
    T* result = static_cast<T*>(out.raw_data());
    const float keep_scale = 1.0f / (1.0f - p);
    cpu::parallel_for(x.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const bool keep = random_uniform(seed, static_cast<uint64_t>(i)) >= p;
        result[i] = cpu::store<T>(keep ? cpu::load(in[i]) * keep_scale : 0.0f);
      }
    });
  });
}

}  // namespace hive
