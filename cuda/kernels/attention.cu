// Scaled dot-product attention, forward and backward. Both run cuDNN's fused flash attention
// where it applies (bf16/f16, d a multiple of 8 up to 128: cudnn_attention.h), which keeps the
// scores on chip; everything else runs the general path below, for every dtype and shape: the
// scores of all heads are materialized at once in stream-ordered scratch. The backward
// recomputes P from the forward's logsumexp, which both paths write the same way (natural-log
// max + log(sum exp), -inf for a row whose keys are all masked):
//
//   forward:  S = scale Q K^T (f32)  ->  softmax kernel: P (in the dtype), logsumexp
//             ->  out = P V
//   backward: S = scale Q K^T  ->  P = exp(S + bias - logsumexp) (dtype),  D = rowsum(dO * O)
//             ->  dV = P^T dO,  dP = dO V^T (f32)  ->  dS = P (dP - D) (dtype)
//             ->  dQ = scale dS K,  dK = scale dS^T Q
//
// Products are cuBLAS strided-batched GEMMs accumulated in f32 (CUBLAS_COMPUTE_32F, never TF32).
// P and dS are kept in the input dtype because cuBLAS multiplies two operands of one type only;
// that is flash attention's rounding too. In the BSHD layout the rows of one (batch, head)
// matrix are heads * d apart (the leading dimension) and heads are d apart, while P, S and dS are
// [b, heads, s_q, s_k]: one strided-batched call covers every head of a batch index (or every
// batch index of a head, whichever loop is shorter).
//
// A row whose keys are all -inf gets P = 0, out = 0 and logsumexp = -inf, as on the CPU.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/blas_types.h"
#include "cuda/kernels/cudnn_attention.h"
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/attention_shape.h"
#include "engine/core/dtype_dispatch.h"

namespace hive::cuda {
namespace {

// One operand of a per-(batch, head) product: where (batch 0, head 0) starts, its row-major
// leading dimension, and how far the next head's and the next batch index's matrices are.
struct HeadMatrices {
  const void* data;
  int64_t leading_dimension;
  int64_t head_stride;
  int64_t batch_stride;
};

// A [b, length, heads, d] tensor's per-head matrices [length, d].
HeadMatrices bshd(const Tensor& t) {
  const int64_t length = t.size(1);
  const int64_t heads = t.size(2);
  const int64_t d = t.size(3);
  return {t.raw_data(), heads * d, d, length * heads * d};
}

// A [b, heads, rows, cols] scratch buffer's per-head matrices [rows, cols].
HeadMatrices per_head(const void* data, const AttentionShape& shape, int64_t rows, int64_t cols) {
  return {data, cols, rows * cols, shape.heads * rows * cols};
}

const void* advance(const void* data, int64_t elements, size_t element_bytes) {
  return static_cast<const std::byte*>(data) + elements * static_cast<int64_t>(element_bytes);
}

// For every (batch, head): out = alpha * op(a) op(b), row-major, op(a) [m, k], out [m, n]; k > 0.
// a and b have dtype `type`, out `out_type`. cuBLAS is column-major, so it computes
// out^T = op(b)^T op(a)^T (as gemm.cpp does); one strided-batched call per batch index covers
// its heads, or one per head its batch indices, whichever makes fewer calls.
void per_head_product(cublasHandle_t handle, const AttentionShape& shape, cudaDataType_t type,
                      cudaDataType_t out_type, Transpose transpose_a, Transpose transpose_b,
                      int64_t m, int64_t n, int64_t k, float alpha, const HeadMatrices& a,
                      const HeadMatrices& b, const HeadMatrices& out) {
  const size_t element_bytes = type == CUDA_R_32F ? 4 : 2;
  const size_t out_bytes = out_type == CUDA_R_32F ? 4 : 2;
  const bool loop_over_batch = shape.batch <= shape.heads;
  const int64_t calls = loop_over_batch ? shape.batch : shape.heads;
  const int64_t count = loop_over_batch ? shape.heads : shape.batch;
  const auto inner = [&](const HeadMatrices& x) {
    return loop_over_batch ? x.head_stride : x.batch_stride;
  };
  const auto outer = [&](const HeadMatrices& x) {
    return loop_over_batch ? x.batch_stride : x.head_stride;
  };
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  HIVE_REQUIRE(m <= kIntMax && n <= kIntMax && k <= kIntMax && count <= kIntMax &&
                   a.leading_dimension <= kIntMax && b.leading_dimension <= kIntMax &&
                   out.leading_dimension <= kIntMax,
               "scaled_dot_product_attention: a per-head product [", m, ", ", k, "] @ [", k, ", ",
               n, "] over ", count, " heads exceeds cuBLAS's 32-bit sizes");
  const float beta = 0.0f;
  for (int64_t call = 0; call < calls; ++call) {
    HIVE_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle, to_operation(transpose_b), to_operation(transpose_a), static_cast<int>(n),
        static_cast<int>(m), static_cast<int>(k), &alpha,
        advance(b.data, call * outer(b), element_bytes), type,
        static_cast<int>(b.leading_dimension), inner(b),
        advance(a.data, call * outer(a), element_bytes), type,
        static_cast<int>(a.leading_dimension), inner(a), &beta,
        const_cast<void*>(advance(out.data, call * outer(out), out_bytes)), out_type,
        static_cast<int>(out.leading_dimension), inner(out), static_cast<int>(count),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

__device__ __forceinline__ float negative_infinity() { return -__int_as_float(0x7f800000); }

// exp(score - offset), 0 for a score of -inf whatever the offset (-inf - -inf would be NaN).
__device__ __forceinline__ float masked_exp(float score, float offset) {
  return score == negative_infinity() ? 0.0f : expf(score - offset);
}

// One block per row of scores [b, heads, s_q, s_k] (f32, scale already applied): adds the key
// bias ([b, s_k] or null), writes the row's softmax to probabilities (dtype T; may be the same
// memory as scores when T is float) and its logsumexp.
template <typename T>
__global__ void attention_softmax_kernel(const float* scores, const T* key_bias, int64_t rows,
                                         int64_t rows_per_batch, int64_t length, T* probabilities,
                                         float* logsumexp) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* line = scores + row * length;
    const T* bias = key_bias == nullptr ? nullptr : key_bias + (row / rows_per_batch) * length;
    const auto biased = [&](int64_t c) {
      return bias == nullptr ? line[c] : line[c] + load(bias[c]);
    };
    float max_value = negative_infinity();
    for (int64_t c = threadIdx.x; c < length; c += blockDim.x) {
      max_value = fmaxf(max_value, biased(c));
    }
    max_value = block_max(max_value, scratch);
    float total = 0.0f;
    for (int64_t c = threadIdx.x; c < length; c += blockDim.x) {
      total += masked_exp(biased(c), max_value);
    }
    total = block_sum(total, scratch);
    // Every key masked (or none): P = 0 and logsumexp = -inf instead of 0 / 0.
    const bool empty = max_value == negative_infinity();
    const float inverse = empty ? 0.0f : 1.0f / total;
    T* target = probabilities + row * length;
    for (int64_t c = threadIdx.x; c < length; c += blockDim.x) {
      target[c] = store<T>(masked_exp(biased(c), max_value) * inverse);
    }
    if (threadIdx.x == 0) logsumexp[row] = empty ? negative_infinity() : max_value + logf(total);
  }
}

// P = exp(S + bias - logsumexp) over the scores [b, heads, s_q, s_k] (f32), into dtype T; 0 where
// the row's logsumexp is -inf (a fully masked row) or the key's score is -inf.
template <typename T>
__global__ void attention_probabilities_kernel(const float* scores, const T* key_bias,
                                               const float* logsumexp, int64_t count,
                                               int64_t rows_per_batch, int64_t length,
                                               T* probabilities) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const int64_t row = i / length;
    const int64_t column = i % length;
    float score = scores[i];
    if (key_bias != nullptr) score += load(key_bias[(row / rows_per_batch) * length + column]);
    const float lse = logsumexp[row];
    probabilities[i] = store<T>(lse == negative_infinity() ? 0.0f : masked_exp(score, lse));
  }
}

// D[b, h, r] = dot(grad_out[b, r, h], out[b, r, h]) over the head size, one block per row.
template <typename T>
__global__ void attention_delta_kernel(const T* grad_out, const T* out, int64_t rows,
                                       int64_t query_length, int64_t heads, int64_t head_size,
                                       float* delta) {
  __shared__ float scratch[kWarpSize];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    // row = (batch * heads + head) * s_q + position; the BSHD element is at
    // ((batch * s_q + position) * heads + head) * d.
    const int64_t position = row % query_length;
    const int64_t pair = row / query_length;
    const int64_t batch = pair / heads;
    const int64_t head = pair % heads;
    const int64_t start = ((batch * query_length + position) * heads + head) * head_size;
    float total = 0.0f;
    for (int64_t j = threadIdx.x; j < head_size; j += blockDim.x) {
      total += load(grad_out[start + j]) * load(out[start + j]);
    }
    total = block_sum(total, scratch);
    if (threadIdx.x == 0) delta[row] = total;
  }
}

// dS = P (dP - D) in place of P: probabilities (dtype T) becomes the score gradient.
template <typename T>
__global__ void attention_score_grad_kernel(const float* grad_probabilities, const float* delta,
                                            int64_t count, int64_t length, T* probabilities) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const float p = load(probabilities[i]);
    probabilities[i] = store<T>(p * (grad_probabilities[i] - delta[i / length]));
  }
}

template <typename T>
const T* optional_data(const Tensor& tensor) {
  return tensor.defined() ? device_data<const T>(tensor) : nullptr;
}

std::shared_ptr<std::byte> scratch(int64_t elements, size_t element_bytes, int device) {
  return allocate_device_memory(static_cast<size_t>(elements) * element_bytes, device);
}

template <typename T>
void general_attention(const AttentionArgs& args) {
  const AttentionShape shape = AttentionShape::of(args.q, args.k);
  const int device = args.q.device().index;
  StreamSlot& slot = current_slot(device);
  const cudaStream_t stream = slot.stream;
  const int64_t s_q = shape.query_length;
  const int64_t s_k = shape.key_length;
  if (shape.score_rows() == 0) return;
  if (s_k == 0) {
    // No keys: every row is empty (out 0, logsumexp -inf, which the softmax kernel writes).
    HIVE_CUDA_CHECK(cudaMemsetAsync(args.out.raw_data(), 0, args.out.nbytes(), stream));
  }
  const cudaDataType_t type = cuda_type_of(args.q.dtype());
  const cublasHandle_t handle = cublas_handle(slot);
  // Scores in f32; P in the dtype (for f32 in place of the scores).
  const std::shared_ptr<std::byte> scores = scratch(shape.scores(), sizeof(float), device);
  std::shared_ptr<std::byte> probabilities = scores;
  if constexpr (!std::is_same_v<T, float>) {
    probabilities = scratch(shape.scores(), sizeof(T), device);
  }
  if (s_k > 0) {
    per_head_product(handle, shape, type, CUDA_R_32F, Transpose::kNo, Transpose::kYes, s_q, s_k,
                     shape.head_size, args.scale, bshd(args.q), bshd(args.k),
                     per_head(scores.get(), shape, s_q, s_k));
  }
  attention_softmax_kernel<T><<<row_blocks(shape.score_rows()), row_threads(s_k), 0, stream>>>(
      reinterpret_cast<const float*>(scores.get()), optional_data<T>(args.key_bias),
      shape.score_rows(), shape.heads * s_q, s_k, reinterpret_cast<T*>(probabilities.get()),
      device_data<float>(args.logsumexp));
  HIVE_CUDA_CHECK_LAUNCH();
  if (s_k == 0) return;
  per_head_product(handle, shape, type, type, Transpose::kNo, Transpose::kNo, s_q,
                   shape.head_size, s_k, 1.0f, per_head(probabilities.get(), shape, s_q, s_k),
                   bshd(args.v), bshd(args.out));
}

template <typename T>
void general_attention_backward(const AttentionBackwardArgs& args) {
  const AttentionShape shape = AttentionShape::of(args.q, args.k);
  const int device = args.q.device().index;
  StreamSlot& slot = current_slot(device);
  const cudaStream_t stream = slot.stream;
  const int64_t s_q = shape.query_length;
  const int64_t s_k = shape.key_length;
  const int64_t d = shape.head_size;
  if (s_q == 0 || s_k == 0) {
    // No queries or no keys: every product is empty and every gradient 0.
    for (const Tensor* grad : {&args.grad_q, &args.grad_k, &args.grad_v}) {
      HIVE_CUDA_CHECK(cudaMemsetAsync(grad->raw_data(), 0, grad->nbytes(), stream));
    }
    return;
  }
  if (shape.pairs() == 0) return;
  const cudaDataType_t type = cuda_type_of(args.q.dtype());
  const cublasHandle_t handle = cublas_handle(slot);
  // scores: S, then dP (f32). probabilities: P, then dS (the dtype). delta: D (f32 per row).
  const std::shared_ptr<std::byte> scores = scratch(shape.scores(), sizeof(float), device);
  const std::shared_ptr<std::byte> probabilities = scratch(shape.scores(), sizeof(T), device);
  const std::shared_ptr<std::byte> delta = scratch(shape.score_rows(), sizeof(float), device);
  auto* scores_data = reinterpret_cast<float*>(scores.get());
  auto* probabilities_data = reinterpret_cast<T*>(probabilities.get());
  auto* delta_data = reinterpret_cast<float*>(delta.get());
  const HeadMatrices scores_matrices = per_head(scores_data, shape, s_q, s_k);
  const HeadMatrices probability_matrices = per_head(probabilities_data, shape, s_q, s_k);

  per_head_product(handle, shape, type, CUDA_R_32F, Transpose::kNo, Transpose::kYes, s_q, s_k, d,
                   args.scale, bshd(args.q), bshd(args.k), scores_matrices);
  attention_probabilities_kernel<T><<<grid_stride_blocks(shape.scores()), kThreadsPerBlock, 0,
                                      stream>>>(
      scores_data, optional_data<T>(args.key_bias), device_data<const float>(args.logsumexp),
      shape.scores(), shape.heads * s_q, s_k, probabilities_data);
  HIVE_CUDA_CHECK_LAUNCH();
  attention_delta_kernel<T><<<row_blocks(shape.score_rows()), row_threads(d), 0, stream>>>(
      device_data<const T>(args.grad_out), device_data<const T>(args.out), shape.score_rows(),
      s_q, shape.heads, d, delta_data);
  HIVE_CUDA_CHECK_LAUNCH();
  // dV = P^T dO, then dP = dO V^T over the scores.
  per_head_product(handle, shape, type, type, Transpose::kYes, Transpose::kNo, s_k, d, s_q, 1.0f,
                   probability_matrices, bshd(args.grad_out), bshd(args.grad_v));
  per_head_product(handle, shape, type, CUDA_R_32F, Transpose::kNo, Transpose::kYes, s_q, s_k, d,
                   1.0f, bshd(args.grad_out), bshd(args.v), scores_matrices);
  attention_score_grad_kernel<T><<<grid_stride_blocks(shape.scores()), kThreadsPerBlock, 0,
                                   stream>>>(scores_data, delta_data, shape.scores(), s_k,
                                             probabilities_data);
  HIVE_CUDA_CHECK_LAUNCH();
  // dQ = scale dS K and dK = scale dS^T Q.
  per_head_product(handle, shape, type, type, Transpose::kNo, Transpose::kNo, s_q, d, s_k,
                   args.scale, probability_matrices, bshd(args.k), bshd(args.grad_q));
  per_head_product(handle, shape, type, type, Transpose::kYes, Transpose::kNo, s_k, d, s_q,
                   args.scale, probability_matrices, bshd(args.q), bshd(args.grad_k));
}

// After the fused forward with a key bias: a row whose keys are all masked (-inf) has no
// softmax, and what cuDNN leaves there (+-inf or NaN logsumexp, NaN out) is not the contract.
// Such rows get out = 0 and logsumexp = -inf, as the general path writes them; every other row
// has a finite logsumexp and is left alone. One thread per (row, element of d).
template <typename T>
__global__ void clear_masked_rows_kernel(float* logsumexp, int64_t count, int64_t query_length,
                                         int64_t heads, int64_t head_size, T* out) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    // i = row * d + j with row = (batch * heads + head) * s_q + position.
    const int64_t row = i / head_size;
    const float lse = logsumexp[row];
    if (isfinite(lse)) continue;
    const int64_t position = row % query_length;
    const int64_t pair = row / query_length;
    const int64_t start =
        (((pair / heads) * query_length + position) * heads + pair % heads) * head_size;
    out[start + i % head_size] = store<T>(0.0f);
    if (i % head_size == 0) logsumexp[row] = negative_infinity();
  }
}

// cuDNN's fused forward when it takes the call (see cudnn_attention.h), with masked rows put
// right; false when it declines and the general path must run.
template <typename T>
bool fused_attention(const AttentionArgs& args) {
  if (!run_fused_attention(args)) return false;
  if (!args.key_bias.defined()) return true;  // no bias, no masked rows
  const AttentionShape shape = AttentionShape::of(args.q, args.k);
  const int64_t count = shape.score_rows() * shape.head_size;
  const cudaStream_t stream = current_stream(args.q.device().index);
  clear_masked_rows_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream>>>(
      device_data<float>(args.logsumexp), count, shape.query_length, shape.heads,
      shape.head_size, device_data<T>(args.out));
  HIVE_CUDA_CHECK_LAUNCH();
  return true;
}

// The logsumexp the fused backward is handed when there is a key bias: +inf where the forward
// wrote -inf (a row whose keys are all masked), every other row as it is. cuDNN computes
// P = exp(S + bias - logsumexp) as written, so -inf there would give exp(-inf - -inf) = NaN, and
// dV and dK, sums over every row of the (batch, head), would be NaN throughout. With +inf every
// P of the row is exp(-inf) = 0, hence dS = P (dP - D) = 0 (D = 0 too, out being 0 there): the
// row adds nothing to dK and dV and its dQ is 0, as on the general path.
__global__ void fused_backward_stats_kernel(const float* logsumexp, int64_t count, float* stats) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const float lse = logsumexp[i];
    stats[i] = lse == negative_infinity() ? -negative_infinity() : lse;
  }
}

// cuDNN's fused backward when it takes the call (see cudnn_attention.h); false when it declines
// and the general path must run. Without a key bias no row is fully masked and the forward's
// logsumexp goes in as it is; with one, a copy made by fused_backward_stats_kernel does (made
// before cuDNN is asked for a plan, so a shape it declines costs that small kernel each call).
bool fused_attention_backward(const AttentionBackwardArgs& args) {
  if (!fused_attention_backward_applies(args)) return false;
  if (!args.key_bias.defined()) return run_fused_attention_backward(args);
  AttentionBackwardArgs fused = args;
  fused.logsumexp = Tensor::empty(args.logsumexp.shape(), DType::kF32, args.logsumexp.device());
  const int64_t count = args.logsumexp.numel();
  const cudaStream_t stream = current_stream(args.q.device().index);
  fused_backward_stats_kernel<<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream>>>(
      device_data<const float>(args.logsumexp), count, device_data<float>(fused.logsumexp));
  HIVE_CUDA_CHECK_LAUNCH();
  return run_fused_attention_backward(fused);
}

}  // namespace

// The one place that chooses a path: fused where cuDNN takes the call, general otherwise.
void CudaBackend::attention(const AttentionArgs& args) {
  DeviceGuard guard(args.q.device().index);
  dispatch_floating(args.q.dtype(), [&]<typename T>() {
    if (!fused_attention<T>(args)) general_attention<T>(args);
  });
}

void CudaBackend::attention_backward(const AttentionBackwardArgs& args) {
  DeviceGuard guard(args.q.device().index);
  if (fused_attention_backward(args)) return;
  dispatch_floating(args.q.dtype(), [&]<typename T>() { general_attention_backward<T>(args); });
}

}  // namespace hive::cuda
