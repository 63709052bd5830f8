#include "engine/autograd/node.h"

namespace hive {

Node::~Node() {
  // Each node taken here is destroyed after its own inputs were taken, so its destructor finds
  // nothing left to free recursively.
  std::vector<std::shared_ptr<Node>> orphans;
  const auto take_sole_inputs = [&orphans](Node& node) {
    for (Edge& edge : node.inputs_) {
      if (edge.node != nullptr && edge.node.use_count() == 1) {
        orphans.push_back(std::move(edge.node));
      }
    }
  };
  take_sole_inputs(*this);
  while (!orphans.empty()) {
    const std::shared_ptr<Node> node = std::move(orphans.back());
    orphans.pop_back();
    take_sole_inputs(*node);
  }
}

std::vector<Tensor> Node::apply(std::span<const Tensor> grad_outputs) const {
  HIVE_REQUIRE(backward_ != nullptr, "backward through op '", name_,
               "' a second time: its saved tensors were freed after the first backward pass "
               "(pass RetainGraph::kYes to the first one to keep them)");
  std::vector<Tensor> grads = backward_(GradContext{grad_outputs, inputs_});
  HIVE_CHECK(grads.size() == inputs_.size(), "op '", name_, "' returned ", grads.size(),
             " gradients for ", inputs_.size(), " inputs");
  return grads;
}

}  // namespace hive
