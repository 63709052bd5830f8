#include "engine/autograd/backward.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops/elementwise.h"

namespace hive {
namespace {

// Nodes reachable from `root`, ordered so that every node comes before the nodes it feeds
// gradients into (reverse post-order of an iterative depth-first search, so deep graphs cannot
// overflow the stack).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> post_order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    const auto inputs = node->inputs();
    if (next_input < inputs.size()) {
      Node* child = inputs[next_input++].node.get();
      if (child != nullptr && visited.insert(child).second) stack.emplace_back(child, 0);
    } else {
      post_order.push_back(node);
      stack.pop_back();
    }
  }
  return {post_order.rbegin(), post_order.rend()};
}

void accumulate(Tensor& slot, const Tensor& grad, const Node& producer) {
  HIVE_CHECK(!slot.defined() || slot.shape() == grad.shape(), "op '", producer.name(),
             "' produced a gradient of shape ", grad.shape(), " for an output of shape ",
             slot.shape());
  if (!slot.defined()) {
    slot = grad;
  } else if (slot.is_uniquely_owned()) {
    add_(slot, grad);  // nobody else sees this buffer: sum in place instead of allocating
  } else {
    slot = add(slot, grad);
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& gradient, RetainGraph retain) {
  HIVE_REQUIRE(root.requires_grad(), "backward: the tensor of shape ", root.shape(),
               " does not require grad (no input of the ops that produced it requires grad)");
  Tensor root_grad = gradient;
  if (!root_grad.defined()) {
    HIVE_REQUIRE(root.numel() == 1, "backward: a gradient must be given for a non-scalar tensor "
                 "of shape ", root.shape());
    root_grad = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  HIVE_REQUIRE(root_grad.shape() == root.shape(), "backward: gradient shape ", root_grad.shape(),
               " differs from tensor shape ", root.shape());

  NoGradGuard no_grad;
  if (root.is_leaf()) {
    Tensor grad = root.grad();
    root.set_grad(grad.defined() ? add(grad, root_grad) : root_grad.clone());
    return;
  }

  Node* root_node = root.grad_fn().get();
  std::unordered_map<Node*, std::vector<Tensor>> pending;
  pending[root_node].resize(root_node->num_outputs());
  pending[root_node][root.output_index()] = root_grad;

  for (Node* node : topological_order(root_node)) {
    auto entry = pending.find(node);
    if (entry == pending.end()) continue;  // no gradient reached this node
    std::vector<Tensor> grad_outputs = std::move(entry->second);
    pending.erase(entry);

    std::vector<Tensor> grad_inputs = node->apply(grad_outputs);
    const auto inputs = node->inputs();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Edge& edge = inputs[i];
      if (edge.node == nullptr || !grad_inputs[i].defined()) continue;
      auto& slots = pending[edge.node.get()];
      if (slots.empty()) slots.resize(edge.node->num_outputs());
      accumulate(slots[edge.output_index], grad_inputs[i], *node);
    }
    // Leaf accumulators (the nodes without inputs) save nothing and are shared with later graphs.
    if (retain == RetainGraph::kNo && !inputs.empty()) node->release();
  }
}

}  // namespace hive
