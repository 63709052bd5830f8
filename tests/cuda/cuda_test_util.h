// Helpers for the CUDA backend's tests: every kernel is checked against the CPU backend on the
// same random inputs. Tests derive from CudaTest, which skips (GTEST_SKIP) on machines without a
// CUDA device, so CI compiles and lists them everywhere.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "tests/engine/test_util.h"

namespace hive::testing {

// What an op gave on one device: its output and the gradient of each input (undefined where no
// gradient flowed).
struct Outcome {
  Tensor output;
  std::vector<Tensor> grads;
};

// Runs f on leaf copies of `inputs` placed on `device` and backpropagates a fixed random probe,
// so the whole vector-Jacobian product is compared rather than the gradient of a plain sum.
Outcome run_on(Device device, const TensorFunction& f, const std::vector<Tensor>& inputs);

// Registers the CUDA backend once per process and poisons every new device allocation (0xFF
// bytes: NaN for floats), so a kernel that leaves output elements unwritten fails.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override;
  static Device gpu() { return Device::cuda(0); }
  // f on the GPU against f on the CPU, forward and backward, on the same inputs.
  static void expect_matches_cpu(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                 double tolerance);
};

// Relative error bounds of the contract: ||out - ref|| / ||ref||.
inline constexpr double kF32Tolerance = 1e-5;
inline constexpr double kBF16Tolerance = 2e-2;
// The dtypes every floating kernel is checked in.
inline constexpr DType kFloatTypes[] = {DType::kF32, DType::kBF16};
double tolerance_for(DType dtype);

// Standard-normal CPU tensor from `seed` in `dtype` (drawn in f32, then rounded).
Tensor random_input(const Shape& shape, uint64_t seed, DType dtype = DType::kF32, float scale = 1.0f);

// random_input rounded to the integers from -2 to 2 (in `dtype`): every row of more than a few
// elements holds its maximum several times, so tie-breaking is tested.
Tensor tied_input(const Shape& shape, uint64_t seed, DType dtype = DType::kF32);

// Expects `actual` (any device) to match `expected` (any device): same shape, no NaN where the
// reference has none, and ||actual - expected|| / ||expected|| <= relative_tolerance (computed
// in double on the host; an all-zero reference needs an all-zero result).
void expect_relative_close(const Tensor& actual, const Tensor& expected, double relative_tolerance);
// Integer tensors (indices, argmax): exactly equal.
void expect_equal_indices(const Tensor& actual, const Tensor& expected);

}  // namespace hive::testing
