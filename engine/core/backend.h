// Backend: the kernel table of one device type.
//
// Engine ops (engine/ops) check arguments, allocate outputs and record autograd; then they call
// the backend of their tensors' device to fill the outputs. The CPU backend lives in
// engine/cpu; the CUDA backend (cuda/) implements the same interface and plugs itself in with
// register_backend() at start-up, so engine never includes CUDA headers.
//
// Contract for every kernel: all tensors are contiguous, live on this backend's device, and
// have been checked by the calling op (shapes, dtypes, index ranges); outputs are preallocated
// and every element of them is written (or, where stated, accumulated into).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "engine/core/axis_layout.h"
#include "engine/core/device.h"
#include "engine/core/random.h"
#include "engine/core/tensor.h"

namespace hive {

enum class UnaryOp : uint8_t { kRelu, kGelu, kTanh, kSigmoid, kExp, kLog, kNeg, kSquare, kSqrt };
enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv };
enum class ReduceOp : uint8_t { kSum, kMean, kMax };
enum class SoftmaxKind : uint8_t { kSoftmax, kLogSoftmax };
enum class Transpose : uint8_t { kNo, kYes };

// Limits of grid_topk: grid dimensions, and experts chosen per row (the CUDA kernel keeps the
// grid's sizes and each row's choices in registers).
inline constexpr size_t kMaxGatingGridDimensions = 8;
inline constexpr int64_t kMaxGatingK = 32;

// What happens to a product before it is stored (cuBLASLt's epilogues).
enum class GemmEpilogue : uint8_t {
  kNone,
  // out = gelu(the product with beta and bias), the tanh approximation of UnaryOp::kGelu; the
  // value before the GELU goes to pre_activation when that is defined (for the backward).
  kGelu,
  // The backward epilogues (cuBLASLt's BGRADA/BGRADB and DGELU[_BGRAD]). Both need batch == 1
  // and no bias; bias_grad is written in out's dtype, summed in f32 as sum_to() sums.
  //
  // out = the product with alpha and beta, as kNone, and bias_grad [m] = the sum over k of
  // op(a): bias_grad[i] = sum_k op(a)[i, k]. In linear's weight gradient dW = dy^T @ x (a = dy,
  // transposed) that is the column sums of dy, the bias gradient. bias_grad must be defined.
  kBiasGradient,
  // out = (the product with alpha and beta) * gelu'(pre_activation), elementwise, with gelu'
  // the derivative of kGelu's GELU as unary_backward(UnaryOp::kGelu) computes it, and
  // pre_activation (out's shape and dtype; required) the GELU input that a kGelu forward kept;
  // then, when bias_grad is defined, bias_grad [n] = the column sums of that out:
  // bias_grad[j] = sum_i out[i, j]. This is the input gradient of a linear layer that follows
  // a GELU layer (dh = dy @ W2), carried through the GELU and into that layer's bias.
  kGeluBackwardBiasGradient,
};

// out[b] = alpha * op(a[b]) @ op(b[b]) + beta * out[b] (+ bias broadcast over rows), for b in
// [0, batch), then the epilogue. op() transposes when asked. A batch stride of 0 reuses one
// matrix for every b. Shapes: op(a) is [m, k], op(b) is [k, n], out is [m, n]; bias, when
// defined, is [n]; pre_activation, when defined, has out's shape and dtype; bias_grad is [m]
// (kBiasGradient) or [n] (kGeluBackwardBiasGradient), out's dtype.
struct GemmArgs {
  Tensor a;
  Tensor b;
  Tensor out;
  Tensor bias;
  Transpose transpose_a = Transpose::kNo;
  Transpose transpose_b = Transpose::kNo;
  int64_t batch = 1;
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  int64_t stride_a = 0;  // elements between consecutive matrices of a (0: shared)
  int64_t stride_b = 0;
  int64_t stride_out = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  Tensor pre_activation;
  Tensor bias_grad;
};

// Scaled dot-product attention over the "BSHD" layout that a fused in-projection gives after a
// reshape: q [b, s_q, heads, d], k and v [b, s_k, heads, d], out [b, s_q, heads, d], so the rows of
// one (batch, head) matrix are heads * d elements apart. For each batch i, head h, query position
// r and key position c:
//   S[r, c] = scale * dot(q[i, r, h], k[i, c, h]) + key_bias[i, c]
//   P[r, :] = softmax(S[r, :]),  out[i, r, h] = sum over c of P[r, c] * v[i, c, h]
//   logsumexp[i, h, r] = log(sum over c of exp(S[r, c]))
// in f32 whatever the dtype of q, k, v and out (all one floating dtype). key_bias ([b, s_k], that
// dtype too) may be undefined: no bias. A key whose bias is -inf gets weight exactly 0; a row in
// which every key has weight 0 (every bias -inf, or s_k == 0) gets out = 0 and logsumexp = -inf,
// never NaN. logsumexp (f32 [b, heads, s_q]) is what the backward recomputes P from.
struct AttentionArgs {
  Tensor q;
  Tensor k;
  Tensor v;
  Tensor key_bias;
  float scale = 1.0f;
  Tensor out;
  Tensor logsumexp;
};

// The backward of attention, from the forward's inputs, its out and logsumexp and grad_out
// (out's shape and dtype), flash-attention style (P is recomputed, never kept):
//   P = exp(S - logsumexp) (0 in a row whose logsumexp is -inf),  D = rowsum(grad_out * out)
//   grad_v = P^T grad_out,  dP = grad_out v^T,  dS = P * (dP - D)
//   grad_q = scale * dS k,  grad_k = scale * dS^T q
// per (batch, head), accumulated in f32. grad_q, grad_k and grad_v have the shapes and dtype of
// q, k and v and are all written. key_bias gets no gradient (it is a mask, not a parameter).
struct AttentionBackwardArgs {
  Tensor q;
  Tensor k;
  Tensor v;
  Tensor key_bias;
  float scale = 1.0f;
  Tensor out;
  Tensor logsumexp;
  Tensor grad_out;
  Tensor grad_q;
  Tensor grad_k;
  Tensor grad_v;
};

struct SgdHyper {
  float lr = 0.0f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer starts as the gradient itself (as PyTorch)
};

struct SgdTensors {
  Tensor param;
  Tensor grad;
  Tensor momentum;  // undefined when momentum == 0
};

struct AdamHyper {
  float lr = 0.0f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled_weight_decay = false;  // AdamW when true, L2 added to the gradient when false
  bool amsgrad = false;
  int64_t step = 0;  // 1 on the first update (for bias correction)
};

struct AdamTensors {
  Tensor param;
  Tensor grad;
  Tensor exp_avg;
  Tensor exp_avg_sq;
  Tensor max_exp_avg_sq;  // only with amsgrad
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  // --- Memory ---
  // Uninitialized bytes on `device`; the deleter of the returned pointer frees them.
  virtual std::shared_ptr<std::byte> allocate(size_t bytes, Device device) = 0;
  // Same dtype and element count; src and dst may be on different devices as long as this
  // backend owns at least one of them (the CPU backend copies only CPU to CPU).
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // Same device and element count, any two dtypes (floats round to nearest even).
  virtual void cast(const Tensor& src, const Tensor& dst) = 0;
  // cast() for each pair (sources[i] into outputs[i]). One by one here; a device backend casts
  // the whole list in a few launches, since mixed precision casts every parameter of a layer to
  // the compute dtype on each forward.
  virtual void cast_many(std::span<const Tensor> sources, std::span<const Tensor> outputs) {
    for (size_t i = 0; i < sources.size(); ++i) cast(sources[i], outputs[i]);
  }
  virtual void fill(const Tensor& out, double value) = 0;
  virtual void arange(const Tensor& out) = 0;
  // Counter-based draws (engine/core/counter_random.h): element i uses counter offset + i.
  virtual void fill_uniform(const Tensor& out, RandomStream stream, double low, double high) = 0;
  virtual void fill_normal(const Tensor& out, RandomStream stream, double mean, double stddev) = 0;

  // --- Elementwise ---
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out) = 0;
  // grad_x = grad_out * d op(x) / dx; y = op(x) is given too, since some derivatives use it.
  virtual void unary_backward(UnaryOp op, const Tensor& grad_out, const Tensor& x,
                              const Tensor& y, const Tensor& grad_x) = 0;
  // out = a op b with NumPy broadcasting (out has the broadcast shape).
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = scale * x + shift. out may be x (in place).
  virtual void affine(const Tensor& x, float scale, float shift, const Tensor& out) = 0;
  // Sums x over the axes along which out's shape broadcasts to x's shape (the backward of a
  // broadcast). out.rank() <= x.rank(); out's shape is aligned to the right of x's.
  virtual void sum_to(const Tensor& x, const Tensor& out) = 0;
  // out = sum of squares of all elements of each tensor: out[i] for tensors[i]; out is f32 [n].
  virtual void sum_of_squares(std::span<const Tensor> tensors, const Tensor& out) = 0;

  // --- Matrix products ---
  virtual void gemm(const GemmArgs& args) = 0;
  // out = x with its last two axes swapped.
  virtual void transpose(const Tensor& x, const Tensor& out) = 0;

  // --- Along an axis ---
  // out is [outer, inner]; for kMax, argmax (i64 [outer, inner]) gets the first index of the max.
  virtual void reduce(ReduceOp op, const Tensor& x, AxisLayout layout, const Tensor& out,
                      const Tensor& argmax) = 0;
  virtual void softmax(SoftmaxKind kind, const Tensor& x, AxisLayout layout, const Tensor& out) = 0;
  // y is the forward output (probabilities, or log-probabilities for kLogSoftmax).
  virtual void softmax_backward(SoftmaxKind kind, const Tensor& y, const Tensor& grad_y,
                                AxisLayout layout, const Tensor& grad_x) = 0;
  // logits [n, c] float, labels [n] i32/i64 in [0, c): loss (f32 scalar) = mean over rows of
  // logsumexp(row) - row[label]; log_sum_exp (f32 [n]) is kept for backward.
  virtual void cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                             const Tensor& log_sum_exp) = 0;
  // grad_logits = grad_loss * (softmax(logits) - onehot(labels)) / n; grad_loss is a f32 scalar.
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& labels,
                                      const Tensor& log_sum_exp, const Tensor& grad_loss,
                                      const Tensor& grad_logits) = 0;
  // Over the last axis (size c) of x seen as [rows, c]: out = (x - mean) * rstd * weight + bias;
  // mean and rstd (f32 [rows]) are kept for backward.
  virtual void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                          const Tensor& out, const Tensor& mean, const Tensor& rstd) = 0;
  // grad_weight and grad_bias are written (not accumulated); any of the grads may be undefined.
  virtual void layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, const Tensor& grad_x,
                                   const Tensor& grad_weight, const Tensor& grad_bias) = 0;
  // out = x * keep / (1 - p) with keep = random_uniform(seed, i) >= p. Backward is the same
  // call on the gradient with the same seed: the mask is recomputed, never stored.
  virtual void dropout(const Tensor& x, float p, uint64_t seed, const Tensor& out) = 0;

  // --- Indexing (index tensors are i32 or i64, in range) ---
  // out[o, j, i] = x[o, index[j], i]; x is [outer, axis, inner] and out [outer, len(index), inner].
  virtual void index_select(const Tensor& x, AxisLayout x_layout, const Tensor& index,
                            const Tensor& out) = 0;
  // out[o, index[j], i] += src[o, j, i] (accumulates; repeated indices add up).
  virtual void index_add(const Tensor& out, AxisLayout out_layout, const Tensor& index,
                         const Tensor& src) = 0;
  // index and out have x's shape except along the axis (length k):
  // out[o, j, i] = x[o, index[o, j, i], i].
  virtual void gather(const Tensor& x, AxisLayout x_layout, const Tensor& index,
                      const Tensor& out) = 0;
  // out[o, index[o, j, i], i] += src[o, j, i] (accumulates).
  virtual void scatter_add(const Tensor& out, AxisLayout out_layout, const Tensor& index,
                           const Tensor& src) = 0;
  // Concatenates along `axis`; every input has out's shape except along it.
  virtual void concat(std::span<const Tensor> inputs, int axis, const Tensor& out) = 0;
  // The inverse: outputs[i] gets its slice of x along `axis`.
  virtual void split(const Tensor& x, int axis, std::span<const Tensor> outputs) = 0;
  // The k largest along the last axis, in descending order; ties keep the lower index first and
  // NaN counts as the largest value (as PyTorch). indices are i64.
  virtual void topk(const Tensor& x, int64_t k, const Tensor& values, const Tensor& indices) = 0;

  // --- Mixture-of-Experts gating ---
  // Experts sit on a grid of at most kMaxGatingGridDimensions dimensions and fewer than 2^31
  // experts; expert e's score is the sum of its row-major coordinates' scores, added in float,
  // dimension 0 first, then 1, ... . dimension_scores is float [n, sum(grid)]: grid[0] scores of
  // dimension 0, then grid[1] of dimension 1, ... . Writes indices (i64 [n, k], with
  // 1 <= k <= min(kMaxGatingK, prod(grid))): each row's k best experts, best first, in topk's
  // order over the expert scores (ties lower index first, NaN largest); and weights ([n, k],
  // dimension_scores' dtype): softmax, in float, over those k scores rounded to that dtype (the
  // values topk would give). The [n, prod(grid)] expert scores are never stored.
  virtual void grid_topk(const Tensor& dimension_scores, std::span<const int64_t> grid, int64_t k,
                         const Tensor& indices, const Tensor& weights) = 0;
  // Writes grad_dimension_scores ([n, sum(grid)], weights' dtype): with g_j = w_j * (gw_j -
  // sum_i w_i gw_i), the softmax gradient of chosen expert j, every chosen expert adds g_j to its
  // coordinate's entry in each dimension; entries no chosen expert uses are 0.
  virtual void grid_topk_backward(const Tensor& grad_weights, const Tensor& weights,
                                  const Tensor& indices, std::span<const int64_t> grid,
                                  const Tensor& grad_dimension_scores) = 0;

  // --- Mixture-of-Experts dispatch and combine ---
  // Groups the n*k (row, choice) pairs of expert_indices (i64 [n, k]) by expert with a stable
  // counting sort (histogram, scan, scatter): experts in index order, and within an expert the
  // pairs keep their flat order r * k + j. Writes counts (i64 [E + 1]): pairs per expert, and in
  // counts[E] the pairs whose expert is outside [0, E), which are placed last (the op reports
  // them); choice_slots (i64 [n * k]): the flat slot r * k + j of each pair in grouped order;
  // source_rows (i64 [n * k]): its row r; slot_positions (i64 [n * k]): the inverse permutation,
  // the grouped position of each slot.
  virtual void moe_plan(const Tensor& expert_indices, const Tensor& counts,
                        const Tensor& choice_slots, const Tensor& source_rows,
                        const Tensor& slot_positions) = 0;
  // out [n, d] = for each row r, the sum over j = 0, 1, ..., k-1 (in that order, accumulated in
  // float) of weights[r, j] * grouped[slot_positions[r * k + j]]; grouped is [n * k, d] in grouped
  // order, weights [n, k] (undefined: every weight is 1, which makes this the backward of
  // dispatching x's rows). No atomics: the result does not depend on scheduling.
  virtual void moe_combine(const Tensor& grouped, const Tensor& weights,
                           const Tensor& slot_positions, const Tensor& out) = 0;
  // The backward of moe_combine with weights: grad_grouped[slot_positions[r * k + j]] =
  // weights[r, j] * grad_out[r] and grad_weights[r, j] = dot(grad_out[r], grouped[slot_positions[
  // r * k + j]]) in float. Either output may be undefined (not wanted).
  virtual void moe_combine_backward(const Tensor& grad_out, const Tensor& grouped,
                                    const Tensor& weights, const Tensor& slot_positions,
                                    const Tensor& grad_grouped, const Tensor& grad_weights) = 0;

  // --- Grouped matrix products ---
  // Independent GEMMs in one call (CUDA: one grouped cuBLAS launch instead of one per problem):
  // each problem as in gemm() with batch == 1 and no epilogue; all share one dtype and device;
  // m, n and k may differ between problems and may be 0. The MoE path uses it for all experts'
  // layers at once.
  virtual void grouped_gemm(std::span<const GemmArgs> problems) = 0;

  // --- Attention (the math and shapes are in AttentionArgs above) ---
  virtual void attention(const AttentionArgs& args) = 0;
  virtual void attention_backward(const AttentionBackwardArgs& args) = 0;

  // --- Optimizers: one call updates a whole list of parameters in place ---
  virtual void sgd_step(std::span<const SgdTensors> tensors, const SgdHyper& hyper) = 0;
  virtual void adam_step(std::span<const AdamTensors> tensors, const AdamHyper& hyper) = 0;

  // --- Ordering ---
  // Returns once all work this thread queued on `device` has finished. Kernels may run
  // asynchronously (CUDA: on the calling thread's stream); a thread must call this before handing
  // tensors it just wrote to another thread. The CPU backend computes synchronously: a no-op.
  virtual void synchronize(Device device) = 0;
};

// The backend for `device`'s type; throws hive::Error if none is registered (for CUDA: built
// without CUDA, or the CUDA backend's registration was not called at start-up).
Backend& backend_for(Device device);
// backend_for(device).synchronize(device).
void synchronize(Device device);
// Installs the backend for a device type, replacing any earlier one. Not thread-safe: call it at
// start-up, before any tensor on that device exists.
void register_backend(DeviceType type, Backend* backend);

}  // namespace hive
