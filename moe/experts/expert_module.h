// ExpertModule: what an expert type builds. A module (named parameters, as engine/nn) with a
// schema and a forward over several input tensors, since some experts take more than one
// (det_dropout's mask, transformer's padding mask).
#pragma once

#include <span>
#include <vector>

#include "engine/nn/module.h"
#include "moe/experts/tensor_schema.h"

namespace hive::nn {
class FeedForwardExpert;
}

namespace hive::moe {

class ExpertModule : public nn::Module {
 public:
  const ExpertSchema& schema() const { return schema_; }

  // The engine block of an expert whose calls can run grouped with those of other experts of
  // its shape (nn::forward_grouped: one grouped GEMM per layer for all of them); null for types
  // that run one expert at a time. A server's runtime groups ready batches by it.
  virtual const nn::FeedForwardExpert* grouped_block() const { return nullptr; }

  // `inputs` match schema().inputs (ExpertBackend checks them first); returns tensors that match
  // schema().outputs, with the same number of rows. Records autograd like any engine op, so
  // one forward serves both ExpertBackend::forward (under no-grad) and backward.
  virtual std::vector<Tensor> forward(std::span<const Tensor> inputs) = 0;

 protected:
  // At least one input and one output: the batch dimension is read from the inputs.
  explicit ExpertModule(ExpertSchema schema);

 private:
  ExpertSchema schema_;
};

}  // namespace hive::moe
