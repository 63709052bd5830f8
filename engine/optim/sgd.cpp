#include "engine/optim/sgd.h"

#include <set>

#include "engine/core/backend.h"
#include "engine/optim/state_io.h"

namespace hive::optim {

Sgd::Sgd(nn::NamedTensors params, SgdOptions options)
    : Optimizer(std::move(params), options.lr), options_(options),
      momentum_buffers_(params_.size()) {
  HIVE_REQUIRE(options.momentum >= 0.0f, "SGD: momentum ", options.momentum, " must be non-negative");
  HIVE_REQUIRE(options.weight_decay >= 0.0f, "SGD: weight decay ", options.weight_decay,
               " must be non-negative");
  HIVE_REQUIRE(options.nesterov == Nesterov::kNo ||
                   (options.momentum > 0.0f && options.dampening == 0.0f),
               "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

void Sgd::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& param = params_[i].second;
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    SgdHyper hyper;
    hyper.lr = lr_;
    hyper.momentum = options_.momentum;
    hyper.dampening = options_.dampening;
    hyper.weight_decay = options_.weight_decay;
    hyper.nesterov = options_.nesterov == Nesterov::kYes;
    Tensor& buffer = momentum_buffers_[i];
    if (options_.momentum > 0.0f && !buffer.defined()) {
      buffer = Tensor::zeros(param.shape(), DType::kF32, param.device());
      hyper.first_step = true;
    }
    const SgdTensors tensors{param, grad.to(DType::kF32), buffer};
    backend_for(param.device()).sgd_step(std::span<const SgdTensors>(&tensors, 1), hyper);
  }
}

nn::NamedTensors Sgd::state() const {
  nn::NamedTensors result;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (momentum_buffers_[i].defined()) {
      result.emplace_back(params_[i].first + ".momentum_buffer", momentum_buffers_[i]);
    }
  }
  return result;
}

void Sgd::load_state(const std::map<std::string, Tensor>& state) {
  std::set<std::string> expected;
  for (const auto& [name, param] : params_) expected.insert(name + ".momentum_buffer");
  reject_unknown_state(state, expected, "SGD");
  // Every buffer is checked before any is replaced, so a refused state changes nothing.
  for (const auto& [name, param] : params_) {
    const std::string key = name + ".momentum_buffer";
    if (state.contains(key)) require_state(state, key, param.shape(), "SGD");
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, param] = params_[i];
    const auto saved = state.find(name + ".momentum_buffer");
    if (saved == state.end()) {
      momentum_buffers_[i] = Tensor();
      continue;
    }
    momentum_buffers_[i] = Tensor::empty(param.shape(), DType::kF32, param.device());
    momentum_buffers_[i].copy_from(saved->second);
  }
}

}  // namespace hive::optim
