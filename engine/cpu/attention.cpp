// Scaled dot-product attention, forward and backward, exactly (the whole [s_q, s_k] score matrix
// of one (batch, head) at a time, no tiling). Work is split over (batch, head) pairs, each of
// which runs its products as single-threaded OpenBLAS calls on strided rows: in the BSHD layout
// the rows of one head's matrix are heads * d elements apart, which is just its leading
// dimension, so no head is ever copied out. f16 and bf16 tensors are widened to f32 scratch
// first and the results rounded once at the end, as gemm.cpp does.
//
// A row whose keys all have bias -inf (or that has no keys) has no softmax: its output is 0, its
// logsumexp -inf, and the backward treats its P as 0, so nothing in it becomes NaN.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/core/attention_shape.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/fast_math.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

constexpr float kNegativeInfinity = -std::numeric_limits<float>::infinity();

// A tensor's elements as f32: the tensor's own memory when it is f32, else a widened copy.
class FloatView {
 public:
  explicit FloatView(const Tensor& t) {
    if (!t.defined()) return;
    if (t.dtype() == DType::kF32) {
      data_ = t.data<float>();
      return;
    }
    copy_.resize(static_cast<size_t>(t.numel()));
    dispatch_floating(t.dtype(), [&]<typename T>() {
      const T* in = static_cast<const T*>(t.raw_data());
      cpu::parallel_for(t.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) copy_[static_cast<size_t>(i)] = cpu::load(in[i]);
      });
    });
    data_ = copy_.data();
  }
  const float* data() const { return data_; }

 private:
  std::vector<float> copy_;
  const float* data_ = nullptr;
};

// Where an f32 result goes: the output tensor itself when it is f32, else scratch that store()
// rounds into it.
class FloatResult {
 public:
  explicit FloatResult(const Tensor& t) : tensor_(t) {
    if (t.dtype() == DType::kF32) {
      data_ = t.data<float>();
    } else {
      scratch_.resize(static_cast<size_t>(t.numel()));
      data_ = scratch_.data();
    }
  }
  float* data() const { return data_; }
  void store() const {
    if (tensor_.dtype() == DType::kF32) return;
    dispatch_floating(tensor_.dtype(), [&]<typename T>() {
      T* out = static_cast<T*>(tensor_.raw_data());
      cpu::parallel_for(tensor_.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          out[i] = cpu::store<T>(scratch_[static_cast<size_t>(i)]);
        }
      });
    });
  }

 private:
  Tensor tensor_;
  std::vector<float> scratch_;
  float* data_ = nullptr;
};

CBLAS_TRANSPOSE to_cblas(Transpose transpose) {
  return transpose == Transpose::kYes ? CblasTrans : CblasNoTrans;
}

// c [m, n] (leading dimension ldc) = alpha * op(a) op(b), row-major, with op(a) [m, k]. An empty
// product (k == 0) writes zeros: BLAS would leave c as it was.
void strided_product(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                     int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t row = 0; row < m; ++row) std::fill(c + row * ldc, c + row * ldc + n, 0.0f);
    return;
  }
  cblas_sgemm(CblasRowMajor, to_cblas(transpose_a), to_cblas(transpose_b),
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), 0.0f, c,
              static_cast<blasint>(ldc));
}

// scores [s_q, s_k] = scale * Q K^T + key_bias (bias may be null) for one (batch, head).
void biased_scores(const AttentionShape& shape, const float* q, const float* k, const float* bias,
                   float scale, float* scores) {
  const int64_t s_k = shape.key_length;
  strided_product(Transpose::kNo, Transpose::kYes, shape.query_length, s_k, shape.head_size,
                  scale, q, shape.row_stride(), k, shape.row_stride(), scores, s_k);
  if (bias == nullptr) return;
  for (int64_t row = 0; row < shape.query_length; ++row) {
    float* line = scores + row * s_k;
#pragma omp simd
    for (int64_t c = 0; c < s_k; ++c) line[c] += bias[c];
  }
}

// exp(score - offset), exactly 0 for a score of -inf (fast_exp's clamp would give 1e-38).
inline float masked_exp(float score, float offset) {
  return score == kNegativeInfinity ? 0.0f : cpu::fast_exp(score - offset);
}

// Turns each row of scores into its softmax in place and returns its logsumexp in lse.
void softmax_rows(float* scores, int64_t rows, int64_t columns, float* lse) {
  for (int64_t row = 0; row < rows; ++row) {
    float* line = scores + row * columns;
    float max_value = kNegativeInfinity;
    for (int64_t c = 0; c < columns; ++c) max_value = std::max(max_value, line[c]);
    if (max_value == kNegativeInfinity) {
      // Every key masked (or none at all): no distribution to take.
      std::fill(line, line + columns, 0.0f);
      lse[row] = kNegativeInfinity;
      continue;
    }
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (int64_t c = 0; c < columns; ++c) {
      line[c] = masked_exp(line[c], max_value);
      total += line[c];
    }
    const float inverse = 1.0f / total;
#pragma omp simd
    for (int64_t c = 0; c < columns; ++c) line[c] *= inverse;
    lse[row] = max_value + std::log(total);
  }
}

// OpenBLAS (OpenMP build) runs single-threaded inside the parallel loop over heads, but with one
// head the loop runs inline and BLAS sizes its team from the calling thread's OpenMP count:
// bring that to the process-wide budget first (as gemm.cpp does).
void apply_thread_budget() {
  const int budget = cpu_threads();
  if (omp_get_max_threads() != budget) omp_set_num_threads(budget);
}

}  // namespace

void CpuBackend::attention(const AttentionArgs& args) {
  const AttentionShape shape = AttentionShape::of(args.q, args.k);
  const int64_t s_q = shape.query_length;
  const int64_t s_k = shape.key_length;
  const int64_t ld = shape.row_stride();
  const FloatView q(args.q);
  const FloatView k(args.k);
  const FloatView v(args.v);
  const FloatView bias(args.key_bias);
  const FloatResult out(args.out);
  float* lse = args.logsumexp.data<float>();
  apply_thread_budget();
  cpu::parallel_for(shape.pairs(), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> probabilities(static_cast<size_t>(s_q * s_k));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t index = task / shape.heads;
      const int64_t head = task % shape.heads;
      const int64_t query_offset = shape.head_offset(index, head, s_q);
      const int64_t key_offset = shape.head_offset(index, head, s_k);
      biased_scores(shape, q.data() + query_offset, k.data() + key_offset,
                    bias.data() == nullptr ? nullptr : bias.data() + index * s_k, args.scale,
                    probabilities.data());
      softmax_rows(probabilities.data(), s_q, s_k, lse + task * s_q);
      strided_product(Transpose::kNo, Transpose::kNo, s_q, shape.head_size, s_k, 1.0f,
              probabilities.data(), s_k, v.data() + key_offset, ld, out.data() + query_offset, ld);
    }
  });
  out.store();
}

void CpuBackend::attention_backward(const AttentionBackwardArgs& args) {
  const AttentionShape shape = AttentionShape::of(args.q, args.k);
  const int64_t s_q = shape.query_length;
  const int64_t s_k = shape.key_length;
  const int64_t d = shape.head_size;
  const int64_t ld = shape.row_stride();
  const FloatView q(args.q);
  const FloatView k(args.k);
  const FloatView v(args.v);
  const FloatView bias(args.key_bias);
  const FloatView out(args.out);
  const FloatView grad_out(args.grad_out);
  const FloatResult grad_q(args.grad_q);
  const FloatResult grad_k(args.grad_k);
  const FloatResult grad_v(args.grad_v);
  const float* lse = args.logsumexp.data<float>();
  apply_thread_budget();
  cpu::parallel_for(shape.pairs(), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> probabilities(static_cast<size_t>(s_q * s_k));
    std::vector<float> grad_scores(static_cast<size_t>(s_q * s_k));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t index = task / shape.heads;
      const int64_t head = task % shape.heads;
      const int64_t query_offset = shape.head_offset(index, head, s_q);
      const int64_t key_offset = shape.head_offset(index, head, s_k);
      const float* row_lse = lse + task * s_q;
      const float* dout = grad_out.data() + query_offset;
      float* p = probabilities.data();
      float* ds = grad_scores.data();
      // P = exp(S - logsumexp), recomputed from the saved statistics.
      biased_scores(shape, q.data() + query_offset, k.data() + key_offset,
                    bias.data() == nullptr ? nullptr : bias.data() + index * s_k, args.scale, p);
      for (int64_t row = 0; row < s_q; ++row) {
        float* line = p + row * s_k;
        if (row_lse[row] == kNegativeInfinity) {
          std::fill(line, line + s_k, 0.0f);
          continue;
        }
#pragma omp simd
        for (int64_t c = 0; c < s_k; ++c) line[c] = masked_exp(line[c], row_lse[row]);
      }
      // dV = P^T dO and dP = dO V^T (into dS).
      strided_product(Transpose::kYes, Transpose::kNo, s_k, d, s_q, 1.0f, p, s_k, dout, ld,
              grad_v.data() + key_offset, ld);
      strided_product(Transpose::kNo, Transpose::kYes, s_q, s_k, d, 1.0f, dout, ld,
                      v.data() + key_offset, ld, ds, s_k);
      // dS = P * (dP - D) with D = rowsum(dO * O).
      for (int64_t row = 0; row < s_q; ++row) {
        const float* o_line = out.data() + query_offset + row * ld;
        const float* dout_line = dout + row * ld;
        float delta = 0.0f;
#pragma omp simd reduction(+ : delta)
        for (int64_t j = 0; j < d; ++j) delta += dout_line[j] * o_line[j];
        float* ds_line = ds + row * s_k;
        const float* p_line = p + row * s_k;
#pragma omp simd
        for (int64_t c = 0; c < s_k; ++c) ds_line[c] = p_line[c] * (ds_line[c] - delta);
      }
      // dQ = scale dS K and dK = scale dS^T Q.
      strided_product(Transpose::kNo, Transpose::kNo, s_q, d, s_k, args.scale, ds, s_k,
              k.data() + key_offset, ld, grad_q.data() + query_offset, ld);
      strided_product(Transpose::kYes, Transpose::kNo, s_k, d, s_q, args.scale, ds, s_k,
              q.data() + query_offset, ld, grad_k.data() + key_offset, ld);
    }
  });
  grad_q.store();
  grad_k.store();
  grad_v.store();
}

}  // namespace hive
