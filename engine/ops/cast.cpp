#include "engine/ops/cast.h"

#include <cstddef>

#include "engine/autograd/record.h"
#include "engine/core/backend.h"

namespace hive {
namespace {

// Casts sources[i] to dtypes[i] with one backend call; all on `device`.
std::vector<Tensor> cast_all(std::span<const Tensor> sources, std::span<const DType> dtypes,
                             Device device) {
  std::vector<Tensor> outputs;
  outputs.reserve(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    outputs.push_back(Tensor::empty(sources[i].shape(), dtypes[i], device));
  }
  backend_for(device).cast_many(sources, outputs);
  return outputs;
}

}  // namespace

std::vector<Tensor> to_dtype(std::span<const Tensor> tensors, DType dtype) {
  std::vector<Tensor> results(tensors.begin(), tensors.end());
  std::vector<size_t> positions;  // of the tensors that need a cast
  std::vector<Tensor> sources;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& tensor = tensors[i];
    if (!tensor.defined() || tensor.dtype() == dtype) continue;
    HIVE_REQUIRE(sources.empty() || tensor.device() == sources.front().device(),
                 "to_dtype: tensor ", i, " is on ", tensor.device(), ", tensor ", positions.front(),
                 " on ", sources.front().device());
    positions.push_back(i);
    sources.push_back(tensor);
  }
  if (sources.empty()) return results;

  const Device device = sources.front().device();
  const std::vector<DType> targets(sources.size(), dtype);
  const std::vector<Tensor> outputs = cast_all(sources, targets, device);
  for (size_t j = 0; j < positions.size(); ++j) results[positions[j]] = outputs[j];

  bool floating = is_floating(dtype);
  std::vector<DType> source_dtypes;
  for (const Tensor& source : sources) {
    floating = floating && is_floating(source.dtype());
    source_dtypes.push_back(source.dtype());
  }
  if (floating && should_record(sources)) {
    record_op("to_dtype", sources, outputs,
              [source_dtypes = std::move(source_dtypes),
               device](const GradContext& context) -> std::vector<Tensor> {
                // Outputs that got no gradient give their inputs none.
                std::vector<size_t> with_grad;
                std::vector<Tensor> grads;
                std::vector<DType> dtypes;
                for (size_t i = 0; i < context.grad_outputs.size(); ++i) {
                  if (!context.grad_outputs[i].defined()) continue;
                  with_grad.push_back(i);
                  grads.push_back(context.grad_outputs[i]);
                  dtypes.push_back(source_dtypes[i]);
                }
                std::vector<Tensor> input_grads(context.grad_outputs.size());
                const std::vector<Tensor> cast_back = cast_all(grads, dtypes, device);
                for (size_t j = 0; j < with_grad.size(); ++j) {
                  input_grads[with_grad[j]] = cast_back[j];
                }
                return input_grads;
              });
  }
  return results;
}

}  // namespace hive
