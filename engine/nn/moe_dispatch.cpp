#include "engine/nn/moe_dispatch.h"

#include <string>

#include "engine/ops.h"

namespace hive::nn {

Tensor combine(std::span<const Tensor> expert_outputs, const Tensor& weights, const MoePlan& plan) {
  HIVE_REQUIRE(expert_outputs.size() == plan.expert_counts.size(), "combine: ",
               expert_outputs.size(), " expert outputs for ", plan.expert_counts.size(), " experts");
  std::vector<Tensor> present;
  for (size_t e = 0; e < expert_outputs.size(); ++e) {
    const int64_t count = plan.expert_counts[e];
    const Tensor& output = expert_outputs[e];
    if (count == 0 && !output.defined()) continue;
    HIVE_REQUIRE(output.defined() && output.rank() == 2 && output.size(0) == count,
                 "combine: expert ", e, " returned ",
                 output.defined() ? str_cat("shape ", output.shape()) : std::string("nothing"),
                 " for its ", count, " rows");
    present.push_back(output);
  }
  HIVE_REQUIRE(!present.empty(), "combine: no expert outputs (", plan.rows, " rows)");
  return moe_combine(present.size() == 1 ? present[0] : concat(present, 0), weights, plan);
}

}  // namespace hive::nn
