// The CUDA backend: engine's Backend interface for tensors on Device::cuda(n).
//
// Every method runs asynchronously on the calling thread's stream of the tensors' device
// (runtime/stream_slots.h) with that device made current for the call; results are read back
// through copies to the CPU, which wait for the stream. Matrix products go through cuBLASLt
// (kernels/gemm.cpp), grouped ones through cuBLAS's grouped GEMM (kernels/grouped_gemm.cpp);
// every other op is a hand-written kernel in kernels/, one file per kernel family, mirroring
// engine/cpu. Floating kernels load f16/bf16 elements as float, compute in float and round once
// when storing, as the CPU backend does, so both agree within rounding.
#pragma once

#include "engine/core/backend.h"

namespace hive::cuda {

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }

  std::shared_ptr<std::byte> allocate(size_t bytes, Device device) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void cast(const Tensor& src, const Tensor& dst) override;
  void cast_many(std::span<const Tensor> sources, std::span<const Tensor> outputs) override;
  void fill(const Tensor& out, double value) override;
  void arange(const Tensor& out) override;
  void fill_uniform(const Tensor& out, RandomStream stream, double low, double high) override;
  void fill_normal(const Tensor& out, RandomStream stream, double mean, double stddev) override;

  void unary(UnaryOp op, const Tensor& x, const Tensor& out) override;
  void unary_backward(UnaryOp op, const Tensor& grad_out, const Tensor& x, const Tensor& y,
                      const Tensor& grad_x) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void affine(const Tensor& x, float scale, float shift, const Tensor& out) override;
  void sum_to(const Tensor& x, const Tensor& out) override;
  void sum_of_squares(std::span<const Tensor> tensors, const Tensor& out) override;
  void dropout(const Tensor& x, float p, uint64_t seed, const Tensor& out) override;

  void gemm(const GemmArgs& args) override;
  void transpose(const Tensor& x, const Tensor& out) override;

  void reduce(ReduceOp op, const Tensor& x, AxisLayout layout, const Tensor& out,
              const Tensor& argmax) override;
  void softmax(SoftmaxKind kind, const Tensor& x, AxisLayout layout, const Tensor& out) override;
  void softmax_backward(SoftmaxKind kind, const Tensor& y, const Tensor& grad_y, AxisLayout layout,
                        const Tensor& grad_x) override;
  void cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& loss,
                     const Tensor& log_sum_exp) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& labels,
                              const Tensor& log_sum_exp, const Tensor& grad_loss,
                              const Tensor& grad_logits) override;
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  const Tensor& out, const Tensor& mean, const Tensor& rstd) override;
  void layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                           const Tensor& mean, const Tensor& rstd, const Tensor& grad_x,
                           const Tensor& grad_weight, const Tensor& grad_bias) override;

  void index_select(const Tensor& x, AxisLayout x_layout, const Tensor& index,
                    const Tensor& out) override;
  void index_add(const Tensor& out, AxisLayout out_layout, const Tensor& index,
                 const Tensor& src) override;
  void gather(const Tensor& x, AxisLayout x_layout, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, AxisLayout out_layout, const Tensor& index,
                   const Tensor& src) override;
  void concat(std::span<const Tensor> inputs, int axis, const Tensor& out) override;
  void split(const Tensor& x, int axis, std::span<const Tensor> outputs) override;
  void topk(const Tensor& x, int64_t k, const Tensor& values, const Tensor& indices) override;

  void grid_topk(const Tensor& dimension_scores, std::span<const int64_t> grid, int64_t k,
                 const Tensor& indices, const Tensor& weights) override;
  void grid_topk_backward(const Tensor& grad_weights, const Tensor& weights, const Tensor& indices,
                          std::span<const int64_t> grid,
                          const Tensor& grad_dimension_scores) override;

  void moe_plan(const Tensor& expert_indices, const Tensor& counts, const Tensor& choice_slots,
                const Tensor& source_rows, const Tensor& slot_positions) override;
  void moe_combine(const Tensor& grouped, const Tensor& weights, const Tensor& slot_positions,
                   const Tensor& out) override;
  void moe_combine_backward(const Tensor& grad_out, const Tensor& grouped, const Tensor& weights,
                            const Tensor& slot_positions, const Tensor& grad_grouped,
                            const Tensor& grad_weights) override;

  void grouped_gemm(std::span<const GemmArgs> problems) override;

  void attention(const AttentionArgs& args) override;
  void attention_backward(const AttentionBackwardArgs& args) override;

  void sgd_step(std::span<const SgdTensors> tensors, const SgdHyper& hyper) override;
  void adam_step(std::span<const AdamTensors> tensors, const AdamHyper& hyper) override;

  void synchronize(Device device) override;
};

}  // namespace hive::cuda
