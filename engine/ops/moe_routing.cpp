#include "engine/ops/moe_routing.h"

#include <string>

#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/ops/checks.h"

namespace hive {
namespace {

// Called only when the kernel counted out-of-range experts: finds the first one for the message.
[[noreturn]] void throw_out_of_range(const Tensor& expert_indices, int64_t num_experts) {
  const std::vector<int64_t> chosen = expert_indices.to_vector<int64_t>();
  const int64_t k = expert_indices.size(1);
  for (size_t i = 0; i < chosen.size(); ++i) {
    HIVE_REQUIRE(chosen[i] >= 0 && chosen[i] < num_experts, "moe_plan: expert index ", chosen[i],
                 " at row ", static_cast<int64_t>(i) / k, " is out of range [0, ", num_experts,
                 ")");
  }
  HIVE_CHECK(false, "moe_plan: the kernel counted out-of-range experts that the host cannot find");
}

void check_plan_device(const char* op, const Tensor& x, const MoePlan& plan) {
  HIVE_REQUIRE(plan.slot_positions.defined() && x.device() == plan.slot_positions.device(), op,
               ": the tensor is on ", x.device(), " but the plan is for ",
               plan.slot_positions.defined() ? str_cat(plan.slot_positions.device())
                                             : std::string("no device (an empty plan)"));
}

}  // namespace

MoePlan moe_plan(const Tensor& expert_indices, int64_t num_experts) {
  checks::defined("moe_plan", expert_indices, "expert_indices");
  HIVE_REQUIRE(expert_indices.rank() == 2 && expert_indices.dtype() == DType::kI64,
               "moe_plan: expert_indices must be i64 [n, k], got ", expert_indices.dtype(), " ",
               expert_indices.shape());
  HIVE_REQUIRE(num_experts > 0, "moe_plan: num_experts must be positive, got ", num_experts);
  const Device device = expert_indices.device();
  const int64_t pairs = expert_indices.numel();
  MoePlan plan;
  plan.rows = expert_indices.size(0);
  plan.k = expert_indices.size(1);
  const Tensor counts = Tensor::empty(Shape{num_experts + 1}, DType::kI64, device);
  plan.choice_slots = Tensor::empty(Shape{pairs}, DType::kI64, device);
  plan.source_rows = Tensor::empty(Shape{pairs}, DType::kI64, device);
  plan.slot_positions = Tensor::empty(Shape{pairs}, DType::kI64, device);
  backend_for(device).moe_plan(expert_indices, counts, plan.choice_slots, plan.source_rows,
                               plan.slot_positions);
  plan.expert_counts = counts.to_vector<int64_t>();
  if (plan.expert_counts.back() != 0) throw_out_of_range(expert_indices, num_experts);
  plan.expert_counts.pop_back();
  return plan;
}

Tensor moe_dispatch(const Tensor& x, const MoePlan& plan) {
  checks::defined("moe_dispatch", x, "x");
  HIVE_REQUIRE(x.rank() == 2 && x.size(0) == plan.rows, "moe_dispatch: x has shape ", x.shape(),
               ", expected [", plan.rows, ", d] for the plan");
  check_plan_device("moe_dispatch", x, plan);
  const int64_t width = x.size(1);
  Tensor grouped = Tensor::empty(Shape{plan.rows * plan.k, width}, x.dtype(), x.device());
  backend_for(x.device()).index_select(x, AxisLayout{1, plan.rows, width}, plan.source_rows,
                                       grouped);
  if (should_record({&x})) {
    // The k copies of a row add up in a fixed order (moe_combine without weights): no atomics.
    record_op("moe_dispatch", {&x}, {&grouped},
              [x_shape = x.shape(), dtype = x.dtype(), slot_positions = plan.slot_positions](
                  const GradContext& context) -> std::vector<Tensor> {
                Tensor grad_x = Tensor::empty(x_shape, dtype, slot_positions.device());
                backend_for(grad_x.device()).moe_combine(context.grad(), Tensor(), slot_positions,
                                                         grad_x);
                return {grad_x};
              });
  }
  return grouped;
}

Tensor moe_combine(const Tensor& grouped, const Tensor& weights, const MoePlan& plan) {
  checks::floating("moe_combine", grouped, "grouped");
  checks::floating("moe_combine", weights, "weights");
  checks::same_dtype("moe_combine", grouped, weights);
  checks::same_device("moe_combine", grouped, weights);
  HIVE_REQUIRE(grouped.rank() == 2 && grouped.size(0) == plan.rows * plan.k,
               "moe_combine: grouped has shape ", grouped.shape(), ", expected [",
               plan.rows * plan.k, ", d] (", plan.rows, " rows x ", plan.k, " choices)");
  HIVE_REQUIRE(weights.shape() == (Shape{plan.rows, plan.k}), "moe_combine: weights have shape ",
               weights.shape(), ", expected ", Shape{plan.rows, plan.k});
  check_plan_device("moe_combine", grouped, plan);
  Tensor out = Tensor::empty(Shape{plan.rows, grouped.size(1)}, grouped.dtype(), grouped.device());
  backend_for(out.device()).moe_combine(grouped, weights, plan.slot_positions, out);
  if (should_record({&grouped, &weights})) {
    record_op("moe_combine", {&grouped, &weights}, {&out},
              [grouped = grouped.detach(), weights = weights.detach(),
               slot_positions = plan.slot_positions](const GradContext& context)
                  -> std::vector<Tensor> {
                Tensor grad_grouped;
                Tensor grad_weights;
                if (context.needs_grad(0)) {
                  grad_grouped = Tensor::empty(grouped.shape(), grouped.dtype(), grouped.device());
                }
                if (context.needs_grad(1)) {
                  grad_weights = Tensor::empty(weights.shape(), weights.dtype(), weights.device());
                }
                backend_for(grouped.device())
                    .moe_combine_backward(context.grad(), grouped, weights, slot_positions,
                                          grad_grouped, grad_weights);
                return {grad_grouped, grad_weights};
              });
  }
  return out;
}

}  // namespace hive
