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
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/kernels/cudnn_descriptor.h"
#include "cuda/kernels/cudnn_handles.h"
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
  kV = 3,
  kOut = 4,
  kStats = 5,
  kScale = 6,
  kBias = 7,
  kFirstVirtual = 100,
};

constexpr int64_t kAlignment = 16;  // bytes; declared for every tensor, checked for every pointer

// One cached plan per shape and device (dtype and bias presence included): building one takes
// milliseconds, running it microseconds.
struct PlanKey {
  int64_t batch, query_length, key_length, heads, head_size;
  DType dtype;
  bool has_bias;
  int device;
  auto operator<=>(const PlanKey&) const = default;
};

// A finalized plan and every descriptor it was built from (kept alive with it: cheap, and it
// spares relying on the plan having copied what it refers to).
struct FusedPlan {
  std::deque<BackendDescriptor> graph;
  BackendDescriptor plan{CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR};
  int64_t workspace_bytes = 0;
};

cudnnDataType_t cudnn_type(DType dtype) {
  return dtype == DType::kBF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
}

// Builds the operation graph's descriptors in order; `operations` lists the operations.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::deque<BackendDescriptor>& owned) : owned_(owned) {}

  const BackendDescriptor& tensor(int64_t uid, cudnnDataType_t type,
                                  std::array<int64_t, 4> dims, std::array<int64_t, 4> strides,
                                  bool is_virtual = false, bool by_value = false) {
    BackendDescriptor& t = owned_.emplace_back(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type);
    t.set_int64s(CUDNN_ATTR_TENSOR_DIMENSIONS, dims);
    t.set_int64s(CUDNN_ATTR_TENSOR_STRIDES, strides);
    t.set_int64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
    t.set_int64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, kAlignment);
    t.set_bool(CUDNN_ATTR_TENSOR_IS_VIRTUAL, is_virtual);
    if (by_value) t.set_bool(CUDNN_ATTR_TENSOR_IS_BY_VALUE, true);
    t.finalize();
    return t;
  }
  // An intermediate the engine keeps on chip: f32 unless said otherwise.
  const BackendDescriptor& intermediate(std::array<int64_t, 4> dims,
                                        std::array<int64_t, 4> strides,
                                        cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    return tensor(next_virtual_++, type, dims, strides, /*is_virtual=*/true);
  }

  void matmul(const BackendDescriptor& a, const BackendDescriptor& b, const BackendDescriptor& c) {
    BackendDescriptor& desc = owned_.emplace_back(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    desc.set_data_type(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_DATA_FLOAT);
    desc.finalize();
    BackendDescriptor& op = owned_.emplace_back(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    op.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a);
    op.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b);
    op.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c);
    op.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_DESC, desc);
    op.finalize();
    operations_.push_back(op.get());
  }

  // y = mode(x) or mode(x, b); b is broadcast over its dimensions of size 1.
  void pointwise(cudnnPointwiseMode_t mode, const BackendDescriptor& x, const BackendDescriptor* b,
                 const BackendDescriptor& y) {
    BackendDescriptor& desc = owned_.emplace_back(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    desc.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    desc.set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT);
    desc.finalize();
    BackendDescriptor& op = owned_.emplace_back(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, desc);
    op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
    if (b != nullptr) op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
    op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    op.finalize();
    operations_.push_back(op.get());
  }

  // y = reduce(x) over the dimensions where y has size 1.
  void reduction(cudnnReduceTensorOp_t reduce, const BackendDescriptor& x,
                 const BackendDescriptor& y) {
    BackendDescriptor& desc = owned_.emplace_back(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    desc.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &reduce);
    desc.set_data_type(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_DATA_FLOAT);
    desc.finalize();
    BackendDescriptor& op = owned_.emplace_back(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    op.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x);
    op.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y);
    op.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_DESC, desc);
    op.finalize();
    operations_.push_back(op.get());
  }

  // The operation graph of everything added, finalized for `handle`'s device.
  const BackendDescriptor& finish(cudnnHandle_t handle) {
    BackendDescriptor& graph = owned_.emplace_back(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
              static_cast<int64_t>(operations_.size()), operations_.data());
    graph.finalize();
    return graph;
  }

 private:
  std::deque<BackendDescriptor>& owned_;  // a deque: references stay valid as it grows
  std::vector<cudnnBackendDescriptor_t> operations_;
  int64_t next_virtual_ = kFirstVirtual;
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

  const auto& scores = g.intermediate(scores_dims, scores_strides);
  g.matmul(q, k_t, scores);
  const auto& scaled = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_MUL, scores, &scale, scaled);
  const BackendDescriptor* logits = &scaled;
  if (has_bias) {
    const auto& bias = g.tensor(kBias, io_type, {b, 1, 1, sk}, {sk, sk, sk, 1});
    const auto& biased = g.intermediate(scores_dims, scores_strides);
    g.pointwise(CUDNN_POINTWISE_ADD, scaled, &bias, biased);
    logits = &biased;
  }
  const auto& row_max = g.intermediate(row_dims, row_strides);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, *logits, row_max);
  const auto& shifted = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_SUB, *logits, &row_max, shifted);
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

// The first engine configuration cuDNN's heuristics (mode A) offer that finalizes into a plan
// for `graph`. Throws hive::Error saying why when none does.
void finalize_plan(const BackendDescriptor& graph, cudnnHandle_t handle, FusedPlan& result) {
  BackendDescriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heuristics.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
  const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  heuristics.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  heuristics.finalize();
  int64_t available = 0;
  HIVE_CUDNN_CHECK(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available,
                                            nullptr));
  HIVE_REQUIRE(available > 0, "cuDNN's heuristics offer no engine for the graph");
  // The results are written into descriptors the caller made.
  std::deque<BackendDescriptor>& configs = result.graph;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < available; ++i) {
    raw.push_back(configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR).get());
  }
  int64_t returned = 0;
  HIVE_CUDNN_CHECK(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, available, &returned,
                                            raw.data()));
  std::string reasons;
  for (int64_t i = 0; i < returned; ++i) {
    try {
      BackendDescriptor plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
      plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
      plan.set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
               &raw[static_cast<size_t>(i)]);
      plan.finalize();
      int64_t workspace = 0;
      int64_t count = 0;
      HIVE_CUDNN_CHECK(cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                                CUDNN_TYPE_INT64, 1, &count, &workspace));
      result.plan = std::move(plan);
      result.workspace_bytes = workspace;
      return;
    } catch (const Error& e) {
      reasons += str_cat("\n  engine config ", i, ": ", e.what());
    }
  }
  throw Error(str_cat("none of the ", returned, " engine configs cuDNN offered finalized:",
                      reasons));
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
               "hive: cuDNN fused attention has no plan for b %lld s_q %lld s_k %lld heads %lld "
               "d %lld %s%s on cuda:%d; this shape runs the general path:%s\n",
               static_cast<long long>(key.batch), static_cast<long long>(key.query_length),
               static_cast<long long>(key.key_length), static_cast<long long>(key.heads),
               static_cast<long long>(key.head_size), key.dtype == DType::kBF16 ? "bf16" : "f16",
               key.has_bias ? " with bias" : "", key.device, reasons.c_str());
  return nullptr;
}

// The cached plan for `key` (built on first use), or null when cuDNN has none.
const FusedPlan* plan_for(const PlanKey& key, cudnnHandle_t handle) {
  // Never destroyed: plans may be used during static destruction, like the stream slots.
  static auto* mutex = new std::mutex();
  static auto* plans = new std::map<PlanKey, std::unique_ptr<FusedPlan>>();
  std::lock_guard lock(*mutex);
  const auto found = plans->find(key);
  if (found != plans->end()) return found->second.get();
  return plans->emplace(key, build_plan(key, handle)).first->second.get();
}

bool aligned(const Tensor& t) {
  return reinterpret_cast<uintptr_t>(t.raw_data()) % kAlignment == 0;
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
  const PlanKey key{args.q.size(0), args.q.size(1), args.k.size(1), args.q.size(2),
                    args.q.size(3), args.q.dtype(),  args.key_bias.defined(), device};
  const FusedPlan* plan = plan_for(key, handle.handle);
  if (plan == nullptr) return false;

  // Ordered on this thread's stream, which is the handle's: freed after the plan has run.
  std::shared_ptr<std::byte> workspace;
  if (plan->workspace_bytes > 0) {
    workspace = allocate_device_memory(static_cast<size_t>(plan->workspace_bytes), device);
  }
  float scale = args.scale;  // by value: cuDNN reads it when the plan is enqueued
  std::vector<int64_t> uids{kQ, kKTransposed, kV, kOut, kStats, kScale};
  std::vector<void*> pointers{args.q.raw_data(),   args.k.raw_data(),
                              args.v.raw_data(),   args.out.raw_data(),
                              args.logsumexp.raw_data(), &scale};
  if (args.key_bias.defined()) {
    uids.push_back(kBias);
    pointers.push_back(args.key_bias.raw_data());
  }
  void* workspace_data = workspace.get();
  BackendDescriptor variants(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  variants.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
               static_cast<int64_t>(uids.size()), uids.data());
  variants.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
               static_cast<int64_t>(pointers.size()), pointers.data());
  variants.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace_data);
  variants.finalize();
  {
    std::lock_guard lock(handle.in_use);
    HIVE_CUDNN_CHECK(cudnnBackendExecute(handle.handle, plan->plan.get(), variants.get()));
  }
  runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

uint64_t fused_attention_runs() { return runs.load(std::memory_order_relaxed); }

}  // namespace hive::cuda
