#include "engine/optim/adam.h"

#include <map>
#include <set>

#include "engine/core/backend.h"
#include "engine/optim/state_io.h"

namespace hive::optim {

Adam::Adam(nn::NamedTensors params, AdamOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  HIVE_REQUIRE(options.beta1 >= 0.0f && options.beta1 < 1.0f && options.beta2 >= 0.0f &&
                   options.beta2 < 1.0f,
               "Adam: betas (", options.beta1, ", ", options.beta2, ") must be in [0, 1)");
  HIVE_REQUIRE(options.eps > 0.0f, "Adam: eps ", options.eps, " must be positive");
  HIVE_REQUIRE(options.weight_decay >= 0.0f, "Adam: weight decay ", options.weight_decay,
               " must be non-negative");
  for (const auto& [name, param] : params_) {
    ParamState state;
    state.exp_avg = Tensor::zeros(param.shape(), DType::kF32, param.device());
    state.exp_avg_sq = Tensor::zeros(param.shape(), DType::kF32, param.device());
    if (options.amsgrad == AmsGrad::kYes) {
      state.max_exp_avg_sq = Tensor::zeros(param.shape(), DType::kF32, param.device());
    }
    states_.push_back(std::move(state));
  }
}

void Adam::step() {
  // Parameters are grouped by device and by their own step count (bias correction differs).
  std::map<std::pair<int, int64_t>, std::vector<AdamTensors>> groups;
  std::map<int, Device> devices;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& param = params_[i].second;
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    ParamState& state = states_[i];
    ++state.steps;
    const int device_key = param.device().is_cpu() ? -1 : param.device().index;
    devices.emplace(device_key, param.device());
    groups[{device_key, state.steps}].push_back(
        {param, grad.to(DType::kF32), state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq});
  }
  for (const auto& [key, tensors] : groups) {
    AdamHyper hyper;
    hyper.lr = lr_;
    hyper.beta1 = options_.beta1;
    hyper.beta2 = options_.beta2;
    hyper.eps = options_.eps;
    hyper.weight_decay = options_.weight_decay;
    hyper.decoupled_weight_decay = options_.weight_decay_mode == WeightDecayMode::kDecoupled;
    hyper.amsgrad = options_.amsgrad == AmsGrad::kYes;
    hyper.step = key.second;
    backend_for(devices.at(key.first)).adam_step(tensors, hyper);
  }
}

nn::NamedTensors Adam::state() const {
  nn::NamedTensors result;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    const ParamState& state = states_[i];
    result.emplace_back(name + ".exp_avg", state.exp_avg);
    result.emplace_back(name + ".exp_avg_sq", state.exp_avg_sq);
    if (state.max_exp_avg_sq.defined()) result.emplace_back(name + ".max_exp_avg_sq", state.max_exp_avg_sq);
    result.emplace_back(name + ".step", Tensor::scalar(static_cast<double>(state.steps), DType::kI64));
  }
  return result;
}

void Adam::load_state(const std::map<std::string, Tensor>& state) {
  std::set<std::string> expected;
  for (const auto& [name, tensor] : this->state()) expected.insert(name);
  reject_unknown_state(state, expected, "Adam");
  // Everything is checked before anything is copied, so a refused state changes nothing.
  std::vector<int64_t> steps(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, param] = params_[i];
    require_state(state, name + ".exp_avg", param.shape(), "Adam");
    require_state(state, name + ".exp_avg_sq", param.shape(), "Adam");
    if (states_[i].max_exp_avg_sq.defined()) {
      require_state(state, name + ".max_exp_avg_sq", param.shape(), "Adam");
    }
    steps[i] = require_state(state, name + ".step", Shape{}, "Adam").item<int64_t>();
    HIVE_REQUIRE(steps[i] >= 0, "Adam: state '", name, ".step' is negative (", steps[i], ")");
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    ParamState& target = states_[i];
    target.exp_avg.copy_from(state.at(name + ".exp_avg"));
    target.exp_avg_sq.copy_from(state.at(name + ".exp_avg_sq"));
    if (target.max_exp_avg_sq.defined()) {
      target.max_exp_avg_sq.copy_from(state.at(name + ".max_exp_avg_sq"));
    }
    target.steps = steps[i];
  }
}

AdamW::AdamW(nn::NamedTensors params, AdamOptions options)
    : Adam(std::move(params), [&] {
        options.weight_decay_mode = WeightDecayMode::kDecoupled;
        return options;
      }()) {}

}  // namespace hive::optim
