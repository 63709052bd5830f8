#include "engine/nn/moe_dispatch.h"

#include "engine/ops.h"

namespace hive::nn {

DispatchPlan plan_dispatch(const Tensor& expert_indices, int64_t num_experts) {
  HIVE_REQUIRE(expert_indices.defined() && expert_indices.rank() == 2 &&
                   expert_indices.dtype() == DType::kI64,
               "plan_dispatch: expert_indices must be i64 [n, k], got ",
               expert_indices.defined() ? str_cat(expert_indices.dtype(), " ", expert_indices.shape())
                                        : std::string("an undefined tensor"));
  const std::vector<int64_t> chosen = expert_indices.to_vector<int64_t>();
  DispatchPlan plan;
  plan.rows = expert_indices.size(0);
  plan.k = expert_indices.size(1);
  plan.expert_counts.assign(static_cast<size_t>(num_experts), 0);
  for (size_t i = 0; i < chosen.size(); ++i) {
    HIVE_REQUIRE(chosen[i] >= 0 && chosen[i] < num_experts, "plan_dispatch: expert index ",
                 chosen[i], " at row ", static_cast<int64_t>(i) / plan.k, " is out of range [0, ",
                 num_experts, ")");
    ++plan.expert_counts[static_cast<size_t>(chosen[i])];
  }
  // Counting sort by expert: start offsets, then place each pair (stable, so rows ascend).
  std::vector<int64_t> next(static_cast<size_t>(num_experts), 0);
  for (int64_t e = 1; e < num_experts; ++e) {
    next[static_cast<size_t>(e)] = next[static_cast<size_t>(e - 1)] + plan.expert_counts[static_cast<size_t>(e - 1)];
  }
  std::vector<int64_t> source_rows(chosen.size());
  std::vector<int64_t> choice_slots(chosen.size());
  for (size_t i = 0; i < chosen.size(); ++i) {
    const auto position = static_cast<size_t>(next[static_cast<size_t>(chosen[i])]++);
    source_rows[position] = static_cast<int64_t>(i) / plan.k;
    choice_slots[position] = static_cast<int64_t>(i);
  }
  const auto pairs = static_cast<int64_t>(chosen.size());
  plan.source_rows = Tensor::from_vector(source_rows, Shape{pairs}).to(expert_indices.device());
  plan.choice_slots = Tensor::from_vector(choice_slots, Shape{pairs}).to(expert_indices.device());
  return plan;
}

std::vector<Tensor> dispatch(const Tensor& x, const DispatchPlan& plan) {
  HIVE_REQUIRE(x.defined() && x.rank() == 2 && x.size(0) == plan.rows, "dispatch: x has shape ",
               x.defined() ? str_cat(x.shape()) : std::string("undefined"), ", expected [",
               plan.rows, ", d]");
  return split(index_select(x, 0, plan.source_rows), 0, plan.expert_counts);
}

Tensor combine(std::span<const Tensor> expert_outputs, const Tensor& weights,
               const DispatchPlan& plan) {
  HIVE_REQUIRE(expert_outputs.size() == plan.expert_counts.size(), "combine: ",
               expert_outputs.size(), " expert outputs for ", plan.expert_counts.size(), " experts");
  HIVE_REQUIRE(weights.defined() && weights.shape() == (Shape{plan.rows, plan.k}),
               "combine: weights have shape ",
               weights.defined() ? str_cat(weights.shape()) : std::string("undefined"),
               ", expected ", Shape{plan.rows, plan.k});
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
  const Tensor outputs = concat(present, 0);  // [n*k, d_out], plan order
  const Tensor pair_weights = index_select(weights.reshape(Shape{plan.rows * plan.k}), 0,
                                           plan.choice_slots)
                                  .reshape(Shape{plan.rows * plan.k, 1});
  const Tensor base = Tensor::zeros(Shape{plan.rows, outputs.size(1)}, outputs.dtype(), outputs.device());
  return index_add(base, 0, plan.source_rows, mul(outputs, pair_weights));
}

}  // namespace hive::nn
