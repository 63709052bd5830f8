// Optimizer: updates a list of named parameters from their gradients.
//
// Semantics follow PyTorch's optimizers, including per-parameter state: a parameter whose
// gradient is undefined at a step (an expert that got no rows) is skipped and its own step count
// does not advance. Parameters and state are f32.
#pragma once

#include <map>
#include <string>

#include "engine/nn/module.h"

namespace hive::optim {

class Optimizer {
 public:
  explicit Optimizer(nn::NamedTensors params, float lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  void zero_grad();

  float lr() const { return lr_; }
  void set_lr(float lr);

  // The state as named tensors ("<param>.exp_avg", "<param>.step", ...) for checkpoints, and
  // its inverse. load_state requires exactly the names state() would produce for a state of
  // the same shape, so a checkpoint of another model or optimizer is refused.
  virtual nn::NamedTensors state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& state) = 0;

  const nn::NamedTensors& params() const { return params_; }

 protected:
  nn::NamedTensors params_;
  float lr_;
};

}  // namespace hive::optim
