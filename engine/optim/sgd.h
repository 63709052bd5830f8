// Stochastic gradient descent with momentum, as torch.optim.SGD.
#pragma once

#include <vector>

#include "engine/optim/optimizer.h"

namespace hive::optim {

enum class Nesterov : uint8_t { kNo, kYes };

struct SgdOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  Nesterov nesterov = Nesterov::kNo;
};

class Sgd : public Optimizer {
 public:
  Sgd(nn::NamedTensors params, SgdOptions options);
  void step() override;
  // "<param>.momentum_buffer" for each parameter whose buffer has started (with momentum > 0).
  nn::NamedTensors state() const override;
  void load_state(const std::map<std::string, Tensor>& state) override;

 private:
  SgdOptions options_;
  std::vector<Tensor> momentum_buffers_;  // undefined until the parameter's first update
};

}  // namespace hive::optim
