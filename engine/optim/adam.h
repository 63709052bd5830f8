// Adam and AdamW (Kingma & Ba; Loshchilov & Hutter), as torch.optim.Adam / AdamW.
#pragma once

#include <vector>

#include "engine/optim/optimizer.h"

namespace hive::optim {

// kL2 adds weight_decay * param to the gradient (Adam); kDecoupled shrinks the parameter by
// lr * weight_decay before the update (AdamW).
enum class WeightDecayMode : uint8_t { kL2, kDecoupled };
enum class AmsGrad : uint8_t { kNo, kYes };

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  WeightDecayMode weight_decay_mode = WeightDecayMode::kL2;
  AmsGrad amsgrad = AmsGrad::kNo;
};

class Adam : public Optimizer {
 public:
  Adam(nn::NamedTensors params, AdamOptions options);
  void step() override;
  // "<param>.exp_avg", "<param>.exp_avg_sq", ("<param>.max_exp_avg_sq" with amsgrad), and
  // "<param>.step" (i64 scalar: the updates this parameter has had).
  nn::NamedTensors state() const override;
  void load_state(const std::map<std::string, Tensor>& state) override;
  const AdamOptions& options() const { return options_; }

 private:
  struct ParamState {
    Tensor exp_avg;
    Tensor exp_avg_sq;
    Tensor max_exp_avg_sq;
    int64_t steps = 0;
  };
  AdamOptions options_;
  std::vector<ParamState> states_;
};

// Adam with decoupled weight decay: options.weight_decay shrinks the parameters directly. Unlike
// torch.optim.AdamW (default 0.01), the default stays AdamOptions' 0; set it explicitly.
class AdamW : public Adam {
 public:
  AdamW(nn::NamedTensors params, AdamOptions options);
};

}  // namespace hive::optim
