// ExpertModule: what an expert type builds. A module (named parameters, as engine/nn) with a
// schema and a forward over several input tensors, since some experts take more than one
// (det_dropout's mask, transformer's padding mask).
#pragma once

#include <span>
#include <vector>

#include "engine/nn/module.h"
#include "moe/experts/tensor_schema.h"

namespace hive::moe {

class ExpertModule : public nn::Module {
 public:
  const ExpertSchema& schema() const { return schema_; }

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
