// The backward pass: a reverse walk over the recorded graph in topological order.
#pragma once

#include "engine/core/tensor.h"

namespace hive {

// Backpropagates `gradient` (ones for a one-element root when undefined) from `root` into the
// .grad of every leaf that requires grad, adding to what is already there. Runs with grad mode
// off. Unless retain == RetainGraph::kYes, each node's saved tensors are freed once it has run.
void run_backward(const Tensor& root, const Tensor& gradient, RetainGraph retain);

}  // namespace hive
