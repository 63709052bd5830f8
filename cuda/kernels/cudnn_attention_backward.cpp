// The fused backward as a cuDNN backend operation graph, in the decomposed form cuDNN's SDPA
// backward engine recognizes (the one cudnn-frontend lowers its sdpa_backward node to for
// cuDNN 9, no dropout, no GQA):
//
//   D   = sum over d of dO * O      pointwise MUL, reduction ADD  dO 8, O 4 [b,h,s_q,d]
//         (times 1)                 pointwise MUL                 one 14 by value; D 12 [b,h,s_q,1]
//   S   = scale Q K^T (+ bias)      matmul, MUL, ADD              Q 1, K^T 2, scale 6, bias 7
//   P   = exp(S - stats)            pointwise SUB, EXP            stats 5 [b,h,s_q,1] f32
//   dV  = P^T dO                    reshape (P^T, io dtype), matmul   dV 11 [b,h,s_k,d]
//   dP  = dO V^T                    matmul, f32                   V^T 3 [b,h,d,s_k]
//   dS  = scale P (dP - D)          pointwise SUB, MUL, MUL
//   dK  = dS^T Q                    reshape (dS^T, io dtype), matmul  dK 10 [b,h,s_k,d]
//   dQ  = dS K                      reshape (K^T -> K), matmul into the f32 accumulator 13
//                                   [b,h,s_q,d] (packed), pointwise IDENTITY into dQ 9
//
// D and the dQ accumulator are not virtual: the engine writes them to memory (cudnn-frontend
// puts them in its workspace; here they are stream-ordered scratch). Layouts are as in the
// forward (cudnn_attention.cpp): hive's BSHD strides in cuDNN's [b, h, s, d] order, transposes
// by swapped strides. Intermediates (virtual, uids from 100) are f32 unless noted.
#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "cuda/kernels/cudnn_attention.h"
#include "cuda/kernels/cudnn_attention_graph.h"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/attention_shape.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// The non-virtual tensors' unique ids: the variant pack binds data pointers by them.
enum Uid : int64_t {
  kQ = 1,
  kKTransposed = 2,
  kVTransposed = 3,
  kOut = 4,
  kStats = 5,
  kScale = 6,
  kBias = 7,
  kGradOut = 8,
  kGradQ = 9,
  kGradK = 10,
  kGradV = 11,
  kRowDot = 12,             // D
  kGradQAccumulator = 13,   // dQ in f32 before it is rounded into grad_q
  kOne = 14,
};

// How dQ leaves the graph. cudnn-frontend, for cuDNN 9, accumulates it in a plain f32 tensor
// (the default, tried first); its releases for cuDNN 8.9 declared that tensor F16x16-reordered;
// writing dQ directly is its deterministic ("dP workspace") form. The first that finalizes wins.
enum class GradQForm : int { kAccumulated = 0, kAccumulatedReordered = 1, kDirect = 2 };

constexpr std::array<GradQForm, 3> kGradQForms{GradQForm::kAccumulated,
                                               GradQForm::kAccumulatedReordered,
                                               GradQForm::kDirect};

const char* name_of(GradQForm form) {
  switch (form) {
    case GradQForm::kAccumulated: return "dQ accumulated in f32";
    case GradQForm::kAccumulatedReordered: return "dQ accumulated in f32, F16x16";
    case GradQForm::kDirect: return "dQ written directly";
  }
  return "?";
}

// Adds the backward graph (see the top of the file) to `owned`; returns the operation graph.
const BackendDescriptor& build_backward_graph(std::deque<BackendDescriptor>& owned,
                                              cudnnHandle_t handle, const AttentionShape& s,
                                              cudnnDataType_t io_type, bool has_bias,
                                              GradQForm grad_q_form) {
  const int64_t b = s.batch, h = s.heads, sq = s.query_length, sk = s.key_length,
                d = s.head_size;
  GraphBuilder g(owned);
  // BSHD memory in [b, h, s, d] order; K^T and V^T are K and V with their last strides swapped.
  const std::array<int64_t, 4> query_dims{b, h, sq, d};
  const std::array<int64_t, 4> query_strides{sq * h * d, d, h * d, 1};
  const std::array<int64_t, 4> key_dims{b, h, sk, d};
  const std::array<int64_t, 4> key_strides{sk * h * d, d, h * d, 1};
  const std::array<int64_t, 4> key_t_dims{b, h, d, sk};
  const std::array<int64_t, 4> key_t_strides{sk * h * d, d, 1, h * d};
  const auto& q = g.tensor(kQ, io_type, query_dims, query_strides);
  const auto& k_t = g.tensor(kKTransposed, io_type, key_t_dims, key_t_strides);
  const auto& v_t = g.tensor(kVTransposed, io_type, key_t_dims, key_t_strides);
  const auto& out = g.tensor(kOut, io_type, query_dims, query_strides);
  const auto& grad_out = g.tensor(kGradOut, io_type, query_dims, query_strides);
  const auto& grad_q = g.tensor(kGradQ, io_type, query_dims, query_strides);
  const auto& grad_k = g.tensor(kGradK, io_type, key_dims, key_strides);
  const auto& grad_v = g.tensor(kGradV, io_type, key_dims, key_strides);
  const std::array<int64_t, 4> row_dims{b, h, sq, 1};
  const std::array<int64_t, 4> row_strides{h * sq, sq, 1, 1};
  const auto& stats = g.tensor(kStats, CUDNN_DATA_FLOAT, row_dims, row_strides);
  const auto& row_dot = g.tensor(kRowDot, CUDNN_DATA_FLOAT, row_dims, row_strides);
  const auto& scale = g.tensor(kScale, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1},
                               /*is_virtual=*/false, /*by_value=*/true);
  const auto& one = g.tensor(kOne, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1},
                             /*is_virtual=*/false, /*by_value=*/true);
  const std::array<int64_t, 4> scores_dims{b, h, sq, sk};
  const std::array<int64_t, 4> scores_strides{h * sq * sk, sq * sk, sk, 1};
  // The scores transposed ([b, h, s_k, s_q] over the same on-chip tile).
  const std::array<int64_t, 4> scores_t_dims{b, h, sk, sq};
  const std::array<int64_t, 4> scores_t_strides{h * sq * sk, sq * sk, 1, sk};

  // D = rowsum(dO * O), f32, written out.
  const auto& products = g.intermediate(query_dims, query_strides);
  g.pointwise(CUDNN_POINTWISE_MUL, grad_out, &out, products);
  const auto& row_sums = g.intermediate(row_dims, row_strides);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, products, row_sums);
  // The frontend's "times the inverse dropout scale" (1 without dropout): part of the pattern.
  g.pointwise(CUDNN_POINTWISE_MUL, row_sums, &one, row_dot);

  // P = exp(scale Q K^T + bias - stats).
  const BackendDescriptor& logits =
      add_logits(g, q, k_t, scale, has_bias, kBias, io_type, scores_dims, scores_strides);
  const auto& shifted = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_SUB, logits, &stats, shifted);
  const auto& probabilities = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, probabilities);

  // dV = P^T dO, P^T in the io dtype.
  const auto& probabilities_t = g.intermediate(scores_t_dims, scores_t_strides, io_type);
  g.reshape(probabilities, probabilities_t);
  g.matmul(probabilities_t, grad_out, grad_v);

  // dS = scale P (dO V^T - D).
  const auto& grad_probabilities = g.intermediate(scores_dims, scores_strides);
  g.matmul(grad_out, v_t, grad_probabilities);
  const auto& centered = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_SUB, grad_probabilities, &row_dot, centered);
  const auto& grad_logits = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_MUL, centered, &probabilities, grad_logits);
  const auto& grad_scores = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_MUL, grad_logits, &scale, grad_scores);

  // dK = dS^T Q, dS^T in the io dtype.
  const auto& grad_scores_t = g.intermediate(scores_t_dims, scores_t_strides, io_type);
  g.reshape(grad_scores, grad_scores_t);
  g.matmul(grad_scores_t, q, grad_k);

  // dQ = dS K, with K seen back through K^T.
  const auto& k = g.intermediate(key_dims, key_strides, io_type);
  g.reshape(k_t, k);
  if (grad_q_form == GradQForm::kDirect) {
    g.matmul(grad_scores, k, grad_q);
  } else {
    const auto& accumulator = g.tensor(
        kGradQAccumulator, CUDNN_DATA_FLOAT, query_dims, {h * sq * d, sq * d, d, 1},
        /*is_virtual=*/false, /*by_value=*/false,
        grad_q_form == GradQForm::kAccumulatedReordered ? CUDNN_TENSOR_REORDERING_F16x16
                                                        : CUDNN_TENSOR_REORDERING_NONE);
    g.matmul(grad_scores, k, accumulator);
    g.pointwise(CUDNN_POINTWISE_IDENTITY, accumulator, nullptr, grad_q);
  }
  return g.finish(handle);
}

// A plan for the shape, or null when cuDNN has none (having said why on stderr). The plan's
// `variant` is the GradQForm it was built with.
std::unique_ptr<FusedPlan> build_backward_plan(const PlanKey& key, cudnnHandle_t handle) {
  const AttentionShape sizes{key.batch, key.query_length, key.key_length, key.heads, key.head_size};
  std::string reasons;
  for (const GradQForm form : kGradQForms) {
    auto plan = std::make_unique<FusedPlan>();
    try {
      const BackendDescriptor& graph = build_backward_graph(
          plan->graph, handle, sizes, cudnn_type(key.dtype), key.has_bias, form);
      finalize_plan(graph, handle, *plan);
      plan->variant = static_cast<int>(form);
      return plan;
    } catch (const Error& e) {
      reasons += str_cat("\n  ", name_of(form), ": ", e.what());
    }
  }
  std::fprintf(stderr,
               "hive: cuDNN fused attention backward has no plan for %s; this shape runs the "
               "general path:%s\n",
               describe(key).c_str(), reasons.c_str());
  return nullptr;
}

std::atomic<uint64_t> backward_runs{0};

}  // namespace

bool fused_attention_backward_applies(const AttentionBackwardArgs& args) {
  const AttentionArgs forward{args.q,     args.k,   args.v,         args.key_bias,
                              args.scale, args.out, args.logsumexp};
  if (!fused_attention_applies(forward)) return false;
  for (const Tensor* grad : {&args.grad_out, &args.grad_q, &args.grad_k, &args.grad_v}) {
    if (grad->dtype() != args.q.dtype() || !aligned(*grad)) return false;
  }
  return true;
}

bool run_fused_attention_backward(const AttentionBackwardArgs& args) {
  if (!fused_attention_backward_applies(args)) return false;
  const int device = args.q.device().index;
  DeviceGuard guard(device);
  StreamSlot& slot = current_slot(device);
  CudnnHandle& handle = cudnn_handle(slot);
  const PlanKey key{/*backward=*/true, args.q.size(0), args.q.size(1), args.k.size(1),
                    args.q.size(2), args.q.size(3), args.q.dtype(), args.key_bias.defined(),
                    device};
  const FusedPlan* plan = cached_plan(key, [&] { return build_backward_plan(key, handle.handle); });
  if (plan == nullptr) return false;

  // D and the dQ accumulator: f32 scratch on this thread's stream, freed after the plan has run.
  const AttentionShape shape = AttentionShape::of(args.q, args.k);
  const std::shared_ptr<std::byte> row_dot =
      allocate_device_memory(static_cast<size_t>(shape.score_rows()) * sizeof(float), device);
  std::shared_ptr<std::byte> accumulator;
  const bool accumulated = plan->variant != static_cast<int>(GradQForm::kDirect);
  if (accumulated) {
    const size_t bytes = static_cast<size_t>(shape.score_rows() * shape.head_size) * sizeof(float);
    accumulator = allocate_device_memory(bytes, device);
    // Before cuDNN 9.6 the engine adds into the accumulator without clearing it first
    // (cudnn-frontend clears it for those versions); later ones clear it themselves.
    if (cudnnGetVersion() < 90600) {
      HIVE_CUDA_CHECK(cudaMemsetAsync(accumulator.get(), 0, bytes, slot.stream));
    }
  }
  float scale = args.scale;  // by value: cuDNN reads them when the plan is enqueued
  float one = 1.0f;
  std::vector<int64_t> uids{kQ,      kKTransposed, kVTransposed, kOut,   kStats, kScale,
                            kGradOut, kGradQ,      kGradK,       kGradV, kRowDot, kOne};
  std::vector<void*> pointers{args.q.raw_data(),        args.k.raw_data(),
                              args.v.raw_data(),        args.out.raw_data(),
                              args.logsumexp.raw_data(), &scale,
                              args.grad_out.raw_data(), args.grad_q.raw_data(),
                              args.grad_k.raw_data(),   args.grad_v.raw_data(),
                              row_dot.get(),            &one};
  if (args.key_bias.defined()) {
    uids.push_back(kBias);
    pointers.push_back(args.key_bias.raw_data());
  }
  if (accumulated) {
    uids.push_back(kGradQAccumulator);
    pointers.push_back(accumulator.get());
  }
  execute_plan(handle, *plan, device, uids, pointers);
  backward_runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

uint64_t fused_attention_backward_runs() {
  return backward_runs.load(std::memory_order_relaxed);
}

}  // namespace hive::cuda
