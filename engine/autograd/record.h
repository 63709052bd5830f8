// How ops record themselves:
//
//   Tensor y = ...compute...;
//   if (should_record({&x})) {
//     record_op("relu", {&x}, {&y}, [x = x.detach(), y = y.detach()](const GradContext& c)
//                                        -> std::vector<Tensor> { return {...grad of x...}; });
//   }
//
// Save tensors for backward with detach(): capturing an output itself would make it own the
// node that owns it (a leak), and capturing inputs with history would keep more of the graph
// alive than the edges already do.
#pragma once

#include <initializer_list>
#include <span>

#include "engine/autograd/node.h"

namespace hive {

// True when grad mode is on and any input requires grad. When false, the op records nothing and
// costs nothing extra.
bool should_record(std::initializer_list<const Tensor*> inputs);
bool should_record(std::span<const Tensor> inputs);

// Creates the node, links it to the inputs' producers (or leaf accumulators) and marks the
// outputs as produced by it.
void record_op(const char* name, std::initializer_list<const Tensor*> inputs,
               std::initializer_list<const Tensor*> outputs, BackwardFn backward);
void record_op(const char* name, std::span<const Tensor> inputs, std::span<const Tensor> outputs,
               BackwardFn backward);

}  // namespace hive
