// Graph building, plan finding, the plan cache and plan execution shared by the fused attention's
// forward and backward (cudnn_attention_graph.h).
#include "cuda/kernels/cudnn_attention_graph.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "cuda/runtime/device_memory.h"
#include "engine/core/error.h"

namespace hive::cuda {

std::string describe(const PlanKey& key) {
  return str_cat("b ", key.batch, " s_q ", key.query_length, " s_k ", key.key_length, " heads ",
                 key.heads, " d ", key.head_size, key.dtype == DType::kBF16 ? " bf16" : " f16",
                 key.has_bias ? " with bias" : "", " on cuda:", key.device);
}

bool aligned(const Tensor& t) {
  return reinterpret_cast<uintptr_t>(t.raw_data()) % kAlignment == 0;
}

const BackendDescriptor& GraphBuilder::tensor(int64_t uid, cudnnDataType_t type,
                                              std::array<int64_t, 4> dims,
                                              std::array<int64_t, 4> strides, bool is_virtual,
                                              bool by_value,
                                              cudnnBackendTensorReordering_t reordering) {
  BackendDescriptor& t = owned_.emplace_back(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type);
  t.set_int64s(CUDNN_ATTR_TENSOR_DIMENSIONS, dims);
  t.set_int64s(CUDNN_ATTR_TENSOR_STRIDES, strides);
  t.set_int64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
  t.set_int64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, kAlignment);
  t.set_bool(CUDNN_ATTR_TENSOR_IS_VIRTUAL, is_virtual);
  if (by_value) t.set_bool(CUDNN_ATTR_TENSOR_IS_BY_VALUE, true);
  if (reordering != CUDNN_TENSOR_REORDERING_NONE) {
    t.set(CUDNN_ATTR_TENSOR_REORDERING_MODE, CUDNN_TYPE_TENSOR_REORDERING_MODE, 1, &reordering);
  }
  t.finalize();
  return t;
}

void GraphBuilder::matmul(const BackendDescriptor& a, const BackendDescriptor& b,
                          const BackendDescriptor& c) {
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

void GraphBuilder::pointwise(cudnnPointwiseMode_t mode, const BackendDescriptor& x,
                             const BackendDescriptor* b, const BackendDescriptor& y) {
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

void GraphBuilder::reduction(cudnnReduceTensorOp_t reduce, const BackendDescriptor& x,
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

void GraphBuilder::reshape(const BackendDescriptor& x, const BackendDescriptor& y) {
  BackendDescriptor& op = owned_.emplace_back(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR);
  op.set_descriptor(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x);
  op.set_descriptor(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y);
  op.finalize();
  operations_.push_back(op.get());
}

const BackendDescriptor& GraphBuilder::finish(cudnnHandle_t handle) {
  BackendDescriptor& graph = owned_.emplace_back(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
            static_cast<int64_t>(operations_.size()), operations_.data());
  graph.finalize();
  return graph;
}

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

const FusedPlan* cached_plan(const PlanKey& key,
                             const std::function<std::unique_ptr<FusedPlan>()>& build) {
  // Never destroyed: plans may be used during static destruction, like the stream slots.
  static auto* mutex = new std::mutex();
  static auto* plans = new std::map<PlanKey, std::unique_ptr<FusedPlan>>();
  std::lock_guard lock(*mutex);
  const auto found = plans->find(key);
  if (found != plans->end()) return found->second.get();
  return plans->emplace(key, build()).first->second.get();
}

void execute_plan(CudnnHandle& handle, const FusedPlan& plan, int device,
                  std::span<const int64_t> uids, std::span<void* const> pointers) {
  HIVE_REQUIRE(uids.size() == pointers.size(), "fused attention: ", uids.size(), " uids but ",
               pointers.size(), " data pointers");
  // Ordered on this thread's stream, which is the handle's: freed after the plan has run.
  std::shared_ptr<std::byte> workspace;
  if (plan.workspace_bytes > 0) {
    workspace = allocate_device_memory(static_cast<size_t>(plan.workspace_bytes), device);
  }
  void* workspace_data = workspace.get();
  BackendDescriptor variants(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  variants.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
               static_cast<int64_t>(uids.size()), uids.data());
  variants.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
               static_cast<int64_t>(pointers.size()), pointers.data());
  variants.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace_data);
  variants.finalize();
  std::lock_guard lock(handle.in_use);
  HIVE_CUDNN_CHECK(cudnnBackendExecute(handle.handle, plan.plan.get(), variants.get()));
}

const BackendDescriptor& add_logits(GraphBuilder& g, const BackendDescriptor& q,
                                    const BackendDescriptor& k_t, const BackendDescriptor& scale,
                                    bool has_bias, int64_t bias_uid, cudnnDataType_t io_type,
                                    std::array<int64_t, 4> scores_dims,
                                    std::array<int64_t, 4> scores_strides) {
  const auto& scores = g.intermediate(scores_dims, scores_strides);
  g.matmul(q, k_t, scores);
  const auto& scaled = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_MUL, scores, &scale, scaled);
  if (!has_bias) return scaled;
  const int64_t b = scores_dims[0];
  const int64_t sk = scores_dims[3];
  const auto& bias = g.tensor(bias_uid, io_type, {b, 1, 1, sk}, {sk, sk, sk, 1});
  const auto& biased = g.intermediate(scores_dims, scores_strides);
  g.pointwise(CUDNN_POINTWISE_ADD, scaled, &bias, biased);
  return biased;
}

}  // namespace hive::cuda
