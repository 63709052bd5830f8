#include "engine/autograd/record.h"

#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/elementwise.h"

namespace hive {
namespace {

// The node that adds incoming gradients into a leaf's .grad. Created on first use and shared by
// every op that reads the leaf; it holds the leaf weakly, so a dropped parameter is not kept alive.
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  AutogradMeta* meta = leaf.autograd_meta();
  if (auto existing = meta->grad_accumulator.lock()) return existing;
  auto node = std::make_shared<Node>(
      "accumulate_grad", std::vector<Edge>{}, 1,
      [weak_leaf = WeakTensor(leaf)](const GradContext& context) -> std::vector<Tensor> {
        const Tensor target = weak_leaf.lock();
        if (!target.defined()) return {};
        const Tensor& incoming = context.grad();
        if (Tensor grad = target.grad(); grad.defined()) {
          add_(grad, incoming);
        } else {
          // Keep the buffer when nothing else can see it (the common case: a fresh gradient
          // that backward hands over); copy it when it may alias another tensor's storage.
          target.set_grad(incoming.is_uniquely_owned() ? incoming : incoming.clone());
        }
        return {};
      });
  meta->grad_accumulator = node;
  return node;
}

Edge edge_to(const Tensor& input) {
  if (!input.requires_grad()) return {};
  if (const auto& producer = input.grad_fn()) return {producer, input.output_index()};
  return {grad_accumulator(input), 0};
}

}  // namespace

bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* input : inputs) {
    if (input->defined() && input->requires_grad()) return true;
  }
  return false;
}

bool should_record(std::span<const Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& input : inputs) {
    if (input.defined() && input.requires_grad()) return true;
  }
  return false;
}

void record_op(const char* name, std::span<const Tensor> inputs, std::span<const Tensor> outputs,
               BackwardFn backward) {
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    edges.push_back(input.defined() ? edge_to(input) : Edge{});
  }
  auto node = std::make_shared<Node>(name, std::move(edges), static_cast<uint32_t>(outputs.size()),
                                     std::move(backward));
  for (size_t i = 0; i < outputs.size(); ++i) {
    outputs[i].set_grad_fn(node, static_cast<uint32_t>(i));
  }
}

void record_op(const char* name, std::initializer_list<const Tensor*> inputs,
               std::initializer_list<const Tensor*> outputs, BackwardFn backward) {
  std::vector<Tensor> input_handles;
  input_handles.reserve(inputs.size());
  for (const Tensor* input : inputs) input_handles.push_back(*input);
  std::vector<Tensor> output_handles;
  output_handles.reserve(outputs.size());
  for (const Tensor* output : outputs) output_handles.push_back(*output);
  record_op(name, input_handles, output_handles, std::move(backward));
}

}  // namespace hive
