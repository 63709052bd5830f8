// Helpers for optimizers' state(): reading one named state tensor with a clear error.
#pragma once

#include <map>
#include <set>
#include <string>

#include "engine/core/tensor.h"

namespace hive::optim {

// state[name], which must exist with `shape`; throws naming the optimizer, the key and the shape.
const Tensor& require_state(const std::map<std::string, Tensor>& state, const std::string& name,
                            const Shape& shape, const char* optimizer);
// Throws if `state` holds a key outside `expected`.
void reject_unknown_state(const std::map<std::string, Tensor>& state,
                          const std::set<std::string>& expected, const char* optimizer);

}  // namespace hive::optim
