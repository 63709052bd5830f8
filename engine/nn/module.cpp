#include "engine/nn/module.h"

#include <set>

namespace hive::nn {

void Module::collect(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [name, tensor] : parameters_) out.emplace_back(prefix + name, tensor);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors result;
  collect("", result);
  return result;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> result;
  for (auto& [name, tensor] : named_parameters()) result.push_back(tensor);
  return result;
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : named_parameters()) count += tensor.numel();
  return count;
}

void Module::load_parameters(const std::map<std::string, Tensor>& values) {
  const NamedTensors own = named_parameters();
  std::set<std::string> expected;
  for (const auto& [name, param] : own) {
    expected.insert(name);
    const auto found = values.find(name);
    HIVE_REQUIRE(found != values.end(), "load_parameters: parameter '", name, "' (shape ",
                 param.shape(), ") is missing");
    HIVE_REQUIRE(found->second.shape() == param.shape(), "load_parameters: parameter '", name,
                 "' has shape ", found->second.shape(), " in the source but ", param.shape(),
                 " in the model");
  }
  for (const auto& [name, value] : values) {
    HIVE_REQUIRE(expected.contains(name), "load_parameters: '", name,
                 "' is not a parameter of this model");
  }
  for (const auto& [name, param] : own) param.copy_from(values.at(name));
}

void Module::set_mode(Mode mode) {
  mode_ = mode;
  for (auto& [name, child] : children_) child->set_mode(mode);
}

void Module::zero_grad() {
  for (const auto& [name, tensor] : named_parameters()) tensor.zero_grad();
}

void Module::to(Device device) {
  for (const auto& [name, tensor] : named_parameters()) tensor.move_to(device);
}

Tensor Module::register_parameter(std::string name, const Tensor& value) {
  HIVE_CHECK(name.find('.') == std::string::npos, "parameter name '", name, "' contains a dot");
  value.set_requires_grad(RequiresGrad::kYes);
  parameters_.emplace_back(std::move(name), value);
  return value;
}

}  // namespace hive::nn
