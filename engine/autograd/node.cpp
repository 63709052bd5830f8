#include "engine/autograd/node.h"

namespace hive {

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
