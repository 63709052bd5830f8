// Finite differences of an ExpertBackend's forward, the oracle for what its backward returns.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "moe/server/expert_backend.h"

namespace hive::moe::testing {

// L(inputs) = sum over outputs of sum(output * probe), accumulated in double.
inline double probed_loss(ExpertBackend& backend, const std::vector<Tensor>& inputs,
                          const std::vector<Tensor>& probes) {
  const std::vector<Tensor> outputs = backend.forward(inputs).value();
  double loss = 0.0;
  for (size_t o = 0; o < outputs.size(); ++o) {
    const std::vector<float> values = outputs[o].to_vector<float>();
    const std::vector<float> weights = probes[o].to_vector<float>();
    for (size_t i = 0; i < values.size(); ++i) {
      loss += static_cast<double>(values[i]) * static_cast<double>(weights[i]);
    }
  }
  return loss;
}

// Expects `gradient` (what backward returned for f32 input `which`, with `probes` as the output
// gradients) to match central differences of probed_loss. Call it before backward when the
// backend's optimizer would change the expert.
inline void expect_input_gradient_matches(ExpertBackend& backend, const std::vector<Tensor>& inputs,
                                          size_t which, const std::vector<Tensor>& probes,
                                          const Tensor& gradient, double eps = 1e-2,
                                          double atol = 2e-3, double rtol = 1e-2) {
  ASSERT_EQ(gradient.shape(), inputs[which].shape());
  const std::vector<float> analytic = gradient.to_vector<float>();
  for (int64_t i = 0; i < inputs[which].numel(); ++i) {
    std::vector<Tensor> shifted = inputs;
    shifted[which] = inputs[which].clone();
    float* value = shifted[which].data<float>() + i;
    const float original = *value;
    *value = original + static_cast<float>(eps);
    const double above = probed_loss(backend, shifted, probes);
    *value = original - static_cast<float>(eps);
    const double below = probed_loss(backend, shifted, probes);
    const double numeric = (above - below) / (2.0 * eps);
    EXPECT_NEAR(analytic[static_cast<size_t>(i)], numeric, atol + rtol * std::abs(numeric))
        << "input " << which << ", element " << i;
  }
}

}  // namespace hive::moe::testing
