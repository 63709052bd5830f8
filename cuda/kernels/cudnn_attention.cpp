// The fused forward as a cuDNN backend operation graph, in the decomposed form cuDNN's SDPA
// engine recognizes (the one cudnn-frontend lowers its sdpa node to before cuDNN 9.21):
//
//   S  = Q K^T                      matmul, f32          uid 100   Q 1 [b,h,s_q,d], K^T 2 [b,h,d,s_k]
//   S1 = S * scale                  pointwise MUL        uid 101   scale 6: [1,1,1,1] f32 by value
//   S2 = S1 + bias                  pointwise ADD        uid 102   bias 7: [b,1,1,s_k] (if given)
//   M  = max over keys              reduction MAX        uid 103   [b,h,s_q,1]
//   E  = exp(S2 - M)                pointwise SUB, EXP   uid 104, 105
//   Z  = sum over keys of E         reduction ADD        uid 106   [b,h,s_q,1]
//   stats = M + log Z               pointwise LOG, ADD   uid 107, stats 5 [b,h,s_q,1] f32
//   P  = E / Z                      pointwise DIV        uid 108   (io dtype; f32 tried second)
//   O  = P V                        matmul, f32          V 3 [b,h,s_k,d], O 4 [b,h,s_q,d]
//
// Every tensor is described in cuDNN's [b, h, s, d] dimension order with hive's BSHD strides
// (rows heads * d apart, heads d apart), so nothing is transposed; K^T is K with its last two
// strides swapped. Virtual tensors (S .. P) are never stored: the engine fuses them on chip.
// All pointwise and reduction math is f32.
#include "cuda/kernels/cudnn_attention.h"

#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "cuda/kernels/cudnn_attention_graph.h"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/attention_shape.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// The non-virtual tensors' unique ids: the variant pack binds data pointers by them.
enum Uid : int64_t {
  kQ = 1,
  kKTransposed = 2,
  kV = 3,
  kOut = 4,
  kStats = 5,
  kScale = 6,
  kBias = 7,
};

// Adds the forward graph (see the top of the file) to `owned`; returns the operation graph.
const BackendDescriptor& build_forward_graph(std::deque<BackendDescriptor>& owned,
                                             cudnnHandle_t handle, const AttentionShape& s,
                                             cudnnDataType_t io_type, bool has_bias,
                                             cudnnDataType_t probability_type) {
  const int64_t b = s.batch, h = s.heads, sq = s.query_length, sk = s.key_length,
                d = s.head_size;
  GraphBuilder g(owned);
  // BSHD memory in [b, h, s, d] order.
  const auto& q = g.tensor(kQ, io_type, {b, h, sq, d}, {sq * h * d, d, h * d, 1});
  const auto& k_t = g.tensor(kKTransposed, io_type, {b, h, d, sk}, {sk * h * d, d, 1, h * d});
  const auto& v = g.tensor(kV, io_type, {b, h, sk, d}, {sk * h * d, d, h * d, 1});
  const auto& out = g.tensor(kOut, io_type, {b, h, sq, d}, {sq * h * d, d, h * d, 1});
  const auto& stats = g.tensor(kStats, CUDNN_DATA_FLOAT, {b, h, sq, 1}, {h * sq, sq, 1, 1});
  const auto& scale = g.tensor(kScale, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1},
                               /*is_virtual=*/false, /*by_value=*/true);
  const std::array<int64_t, 4> scores_dims{b, h, sq, sk};
  const std::array<int64_t, 4> scores_strides{h * sq * sk, sq * sk, sk, 1};
  const std::array<int64_t, 4> row_dims{b, h, sq, 1};
  const std::array<int64_t, 4> row_strides{h * sq, sq, 1, 1};

  const BackendDescriptor& logits =
      add_logits(g, q, k_t, scale, has_bias, kBias, io_type, scores_dims, scores_strides);
  const auto& row_max = g.intermediate(row_dims, row_strides);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, logits, row_max);
  const auto& shifted = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_SUB, logits, &row_max, shifted);
  const auto& exponentials = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, exponentials);
  const auto& row_sum = g.intermediate(row_dims, row_strides);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, exponentials, row_sum);
  const auto& log_sum = g.intermediate(row_dims, row_strides);
  g.pointwise(CUDNN_POINTWISE_LOG, row_sum, nullptr, log_sum);
  g.pointwise(CUDNN_POINTWISE_ADD, row_max, &log_sum, stats);
  const auto& probabilities = g.intermediate(scores_dims, scores_strides, probability_type);
  g.pointwise(CUDNN_POINTWISE_DIV, exponentials, &row_sum, probabilities);
  g.matmul(probabilities, v, out);
  return g.finish(handle);
}

// A plan for the shape, or null when cuDNN has none (having said why on stderr).
std::unique_ptr<FusedPlan> build_plan(const PlanKey& key, cudnnHandle_t handle) {
  const AttentionShape sizes{key.batch, key.query_length, key.key_length, key.heads, key.head_size};
  const cudnnDataType_t io_type = cudnn_type(key.dtype);
  std::string reasons;
  // P in the io dtype is what the fused engine's pattern expects (it feeds the second product
  // in that dtype, as the general path does); f32 is tried second in case this version wants it.
  for (const cudnnDataType_t probability_type : {io_type, CUDNN_DATA_FLOAT}) {
    auto plan = std::make_unique<FusedPlan>();
    try {
      const BackendDescriptor& graph =
          build_forward_graph(plan->graph, handle, sizes, io_type, key.has_bias, probability_type);
      finalize_plan(graph, handle, *plan);
      return plan;
    } catch (const Error& e) {
      reasons += str_cat("\n  P as ", probability_type == CUDNN_DATA_FLOAT ? "f32" : "io dtype",
                         ": ", e.what());
    }
  }
  std::fprintf(stderr,
               "hive: cuDNN fused attention has no plan for %s; this shape runs the general "
               "path:%s\n",
               describe(key).c_str(), reasons.c_str());
  return nullptr;
}

std::atomic<uint64_t> runs{0};

}  // namespace

bool fused_attention_device(int device) {
  // Asked on every call: cached per device (compute capabilities never change).
  static std::array<std::atomic<int>, 64> major{};  // 0 = not asked yet
  if (device < 0 || static_cast<size_t>(device) >= major.size()) return false;
  int known = major[static_cast<size_t>(device)].load(std::memory_order_relaxed);
  if (known == 0) {
    HIVE_CUDA_CHECK(cudaDeviceGetAttribute(&known, cudaDevAttrComputeCapabilityMajor, device));
    major[static_cast<size_t>(device)].store(known, std::memory_order_relaxed);
  }
  return known >= 8;
}

bool fused_attention_applies(const AttentionArgs& args) {
  if (!fused_attention_device(args.q.device().index)) return false;
  const DType dtype = args.q.dtype();
  if (dtype != DType::kBF16 && dtype != DType::kF16) return false;
  if (args.k.dtype() != dtype || args.v.dtype() != dtype || args.out.dtype() != dtype) {
    return false;
  }
  // The bias's rows are s_k elements apart: every row must start 16-byte aligned too, as the
  // other tensors' rows do (heads * d with d a multiple of 8).
  if (args.key_bias.defined() && (args.key_bias.dtype() != dtype || !aligned(args.key_bias) ||
                                  args.k.size(1) % 8 != 0)) {
    return false;
  }
  const int64_t d = args.q.size(3);
  if (d % 8 != 0 || d < 8 || d > 128) return false;
  if (args.q.size(0) == 0 || args.q.size(1) == 0 || args.k.size(1) == 0 || args.q.size(2) == 0) {
    return false;
  }
  return aligned(args.q) && aligned(args.k) && aligned(args.v) && aligned(args.out) &&
         aligned(args.logsumexp);
}

bool run_fused_attention(const AttentionArgs& args) {
  if (!fused_attention_applies(args)) return false;
  const int device = args.q.device().index;
  DeviceGuard guard(device);
  StreamSlot& slot = current_slot(device);
  CudnnHandle& handle = cudnn_handle(slot);
  const PlanKey key{/*backward=*/false, args.q.size(0), args.q.size(1), args.k.size(1),
                    args.q.size(2), args.q.size(3), args.q.dtype(), args.key_bias.defined(),
                    device};
  const FusedPlan* plan = cached_plan(key, [&] { return build_plan(key, handle.handle); });
  if (plan == nullptr) return false;

  float scale = args.scale;  // by value: cuDNN reads it when the plan is enqueued
  std::vector<int64_t> uids{kQ, kKTransposed, kV, kOut, kStats, kScale};
  std::vector<void*> pointers{args.q.raw_data(),   args.k.raw_data(),
                              args.v.raw_data(),   args.out.raw_data(),
                              args.logsumexp.raw_data(), &scale};
  if (args.key_bias.defined()) {
    uids.push_back(kBias);
    pointers.push_back(args.key_bias.raw_data());
  }
  execute_plan(handle, *plan, device, uids, pointers);
  runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

uint64_t fused_attention_runs() { return runs.load(std::memory_order_relaxed); }

}  // namespace hive::cuda
