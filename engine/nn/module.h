// Module: a node in a tree of layers that owns named parameters.
//
// Parameters are tensors that require grad; their full names join the path from the root with
// dots ("layers.0.ffn.weight"), the convention PyTorch state dicts and safetensors files use.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace hive::nn {

enum class Mode : uint8_t { kTrain, kEval };

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Own parameters first, then each child's, in registration order.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;  // total number of elements

  // Copies values into the parameters by name. Every parameter must be present with its shape
  // (dtype is converted); names in `values` that are not parameters are an error too, so a
  // checkpoint of another model cannot half-load silently.
  void load_parameters(const std::map<std::string, Tensor>& values);

  void set_mode(Mode mode);  // this module and all its children
  Mode mode() const { return mode_; }
  bool is_training() const { return mode_ == Mode::kTrain; }
  void zero_grad();
  // Moves every parameter to `device` in place (see Tensor::move_to).
  void to(Device device);

 protected:
  // Registers a parameter (marking it as requiring grad) and returns it.
  Tensor register_parameter(std::string name, const Tensor& value);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  void collect(const std::string& prefix, NamedTensors& out) const;

  NamedTensors parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  Mode mode_ = Mode::kTrain;
};

// A module with one input and one output: what Sequential chains and what an expert is.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace hive::nn
