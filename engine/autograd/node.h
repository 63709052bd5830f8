// Node: one recorded op in the autograd graph (the micrograd idea: a closure that knows how to
// push gradients to its inputs). There is a single node type; an op registers its backward as a
// lambda right next to its forward (see engine/ops), and a leaf's gradient accumulator is a node
// too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/core/tensor.h"

namespace hive {

class Node;

// Where an input's gradient goes: output `output_index` of `node`. A null node means that input
// needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t output_index = 0;
};

struct GradContext {
  // One per output of the node; undefined for an output that received no gradient.
  std::span<const Tensor> grad_outputs;
  // One per input; false where the input needs no gradient (the backward may skip its work).
  std::span<const Edge> inputs;

  const Tensor& grad() const { return grad_outputs[0]; }  // for single-output ops
  bool needs_grad(size_t input) const { return inputs[input].node != nullptr; }
};

// Returns one gradient per input (undefined where none), each with its input's shape.
using BackwardFn = std::function<std::vector<Tensor>(const GradContext&)>;

class Node {
 public:
  Node(const char* name, std::vector<Edge> inputs, uint32_t num_outputs, BackwardFn backward)
      : name_(name), inputs_(std::move(inputs)), num_outputs_(num_outputs),
        backward_(std::move(backward)) {}
  // Frees the nodes that only this one kept alive iteratively, so dropping a long chain cannot
  // overflow the stack.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  std::span<const Edge> inputs() const { return inputs_; }
  uint32_t num_outputs() const { return num_outputs_; }

  // Runs the backward closure; throws if release() already freed it.
  std::vector<Tensor> apply(std::span<const Tensor> grad_outputs) const;
  // Frees the closure and the tensors it saved for backward.
  void release() { backward_ = nullptr; }

 private:
  const char* name_;
  std::vector<Edge> inputs_;
  uint32_t num_outputs_;
  BackwardFn backward_;
};

}  // namespace hive
