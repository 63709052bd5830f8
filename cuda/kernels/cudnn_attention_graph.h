// What the fused attention's forward (cudnn_attention.cpp) and backward
// (cudnn_attention_backward.cpp) share: building a cuDNN backend operation graph, finding a plan
// for it, caching plans per shape, and running one. Internal to those two files; built only with
// cuDNN.
#pragma once

#include <cudnn.h>

#include <array>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cuda/kernels/cudnn_descriptor.h"
#include "cuda/kernels/cudnn_handles.h"
#include "engine/core/tensor.h"

namespace hive::cuda {

constexpr int64_t kAlignment = 16;  // bytes; declared for every tensor, checked for every pointer

// One cached plan per direction, shape and device (dtype and bias presence included): building
// one takes milliseconds, running it microseconds.
struct PlanKey {
  bool backward;
  int64_t batch, query_length, key_length, heads, head_size;
  DType dtype;
  bool has_bias;
  int device;
  auto operator<=>(const PlanKey&) const = default;
};

// "b 2 s_q 37 s_k 56 heads 3 d 64 bf16 with bias on cuda:0", for the messages that name a shape.
std::string describe(const PlanKey& key);

// A finalized plan and every descriptor it was built from (kept alive with it: cheap, and it
// spares relying on the plan having copied what it refers to).
struct FusedPlan {
  std::deque<BackendDescriptor> graph;
  BackendDescriptor plan{CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR};
  int64_t workspace_bytes = 0;
  int variant = 0;  // which of the graph forms its builder tries this one is (the builder's enum)
};

inline cudnnDataType_t cudnn_type(DType dtype) {
  return dtype == DType::kBF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
}

// Whether `t`'s data starts kAlignment-aligned.
bool aligned(const Tensor& t);

// Builds the operation graph's descriptors in order; `operations` lists the operations.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::deque<BackendDescriptor>& owned) : owned_(owned) {}

  // A tensor the variant pack binds by `uid` (or, if virtual, one the engine keeps on chip).
  // `reordering` is the layout cuDNN may keep it in (only the backward's dQ accumulator uses it).
  const BackendDescriptor& tensor(int64_t uid, cudnnDataType_t type, std::array<int64_t, 4> dims,
                                  std::array<int64_t, 4> strides, bool is_virtual = false,
                                  bool by_value = false,
                                  cudnnBackendTensorReordering_t reordering =
                                      CUDNN_TENSOR_REORDERING_NONE);
  // An intermediate the engine keeps on chip: f32 unless said otherwise.
  const BackendDescriptor& intermediate(std::array<int64_t, 4> dims,
                                        std::array<int64_t, 4> strides,
                                        cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    return tensor(next_virtual_++, type, dims, strides, /*is_virtual=*/true);
  }

  // c = a b over the last two dimensions, accumulated in f32.
  void matmul(const BackendDescriptor& a, const BackendDescriptor& b, const BackendDescriptor& c);
  // y = mode(x) or mode(x, b); b is broadcast over its dimensions of size 1.
  void pointwise(cudnnPointwiseMode_t mode, const BackendDescriptor& x, const BackendDescriptor* b,
                 const BackendDescriptor& y);
  // y = reduce(x) over the dimensions where y has size 1.
  void reduction(cudnnReduceTensorOp_t reduce, const BackendDescriptor& x,
                 const BackendDescriptor& y);
  // y = x seen with y's dimensions and strides (the backward's transposes of P, dS and K^T).
  void reshape(const BackendDescriptor& x, const BackendDescriptor& y);

  // The operation graph of everything added, finalized for `handle`'s device.
  const BackendDescriptor& finish(cudnnHandle_t handle);

 private:
  std::deque<BackendDescriptor>& owned_;  // a deque: references stay valid as it grows
  std::vector<cudnnBackendDescriptor_t> operations_;
  int64_t next_virtual_ = 100;  // above every non-virtual uid either graph uses
};

// Adds the logits both graphs start from, scale * (Q K^T) + bias, [b, h, s_q, s_k] in f32 (on
// chip), and returns them: q [b, h, s_q, d] and k_t [b, h, d, s_k] tensors, scale the by-value
// scalar; the key bias, [b, 1, 1, s_k] in io_type under uid `bias_uid`, only when `has_bias`.
const BackendDescriptor& add_logits(GraphBuilder& g, const BackendDescriptor& q,
                                    const BackendDescriptor& k_t, const BackendDescriptor& scale,
                                    bool has_bias, int64_t bias_uid, cudnnDataType_t io_type,
                                    std::array<int64_t, 4> scores_dims,
                                    std::array<int64_t, 4> scores_strides);

// The first engine configuration cuDNN's heuristics (mode A) offer that finalizes into a plan
// for `graph`, stored in `result`. Throws hive::Error saying why when none does.
void finalize_plan(const BackendDescriptor& graph, cudnnHandle_t handle, FusedPlan& result);

// The cached plan for `key`, made by `build` on first use (null, also cached, when it had none:
// `build` says why on stderr, once per shape).
const FusedPlan* cached_plan(const PlanKey& key,
                             const std::function<std::unique_ptr<FusedPlan>()>& build);

// Enqueues `plan` on `handle`'s stream with the data pointers bound to their uids, and with
// workspace from the stream-ordered allocator (freed after the plan has run). Throws hive::Error
// when cuDNN fails to run it.
void execute_plan(CudnnHandle& handle, const FusedPlan& plan, int device,
                  std::span<const int64_t> uids, std::span<void* const> pointers);

}  // namespace hive::cuda
