// The "ffn" expert block: Linear(h, 4h) -> GELU -> Linear(4h, h) -> LayerNorm(x + out).
#pragma once

#include <memory>
#include <span>

#include "engine/nn/layers.h"

namespace hive::nn {

class FeedForwardExpert : public UnaryModule {
 public:
  // Parameters: up.{weight,bias} [4h, h], [4h]; down.{weight,bias} [h, 4h], [h];
  // norm.{weight,bias} [h].
  FeedForwardExpert(int64_t hidden, Generator& generator);
  Tensor forward(const Tensor& x) override;  // x [..., hidden] -> [..., hidden]

  const Linear& up() const { return *up_; }
  const Linear& down() const { return *down_; }
  const LayerNorm& norm() const { return *norm_; }

 private:
  std::shared_ptr<Linear> up_;
  std::shared_ptr<Linear> down_;
  std::shared_ptr<LayerNorm> norm_;
};

// Several experts' forward at once: x [m, hidden] holds group_rows[g] rows for experts[g], one
// group after another, and the result is what each expert's forward gives its rows, in the same
// order (to float rounding). Two grouped GEMMs, one GELU and one layer norm for all groups
// instead of a chain of ops per expert. Experts must share the hidden size and x's device.
Tensor forward_grouped(std::span<const FeedForwardExpert* const> experts, const Tensor& x,
                       std::span<const int64_t> group_rows);

}  // namespace hive::nn
