#include "engine/optim/state_io.h"

namespace hive::optim {

const Tensor& require_state(const std::map<std::string, Tensor>& state, const std::string& name,
                            const Shape& shape, const char* optimizer) {
  const auto found = state.find(name);
  HIVE_REQUIRE(found != state.end(), optimizer, ": state '", name, "' is missing");
  HIVE_REQUIRE(found->second.shape() == shape, optimizer, ": state '", name, "' has shape ",
               found->second.shape(), ", expected ", shape);
  return found->second;
}

void reject_unknown_state(const std::map<std::string, Tensor>& state,
                          const std::set<std::string>& expected, const char* optimizer) {
  for (const auto& [name, tensor] : state) {
    HIVE_REQUIRE(expected.contains(name), optimizer, ": state '", name,
                 "' does not belong to this optimizer's parameters");
  }
}

}  // namespace hive::optim
