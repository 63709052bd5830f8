#include "tests/cuda/cuda_test_util.h"

#include <cmath>
#include <mutex>
#include <vector>

#include "cuda/cuda.h"
#include "engine/core/random.h"

namespace hive::testing {

void CudaTest::SetUp() {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  static std::once_flag registered;
  std::call_once(registered, [] {
    cuda::register_backend();
    cuda::set_poison_allocations(cuda::PoisonAllocations::kYes);
  });
}

double tolerance_for(DType dtype) {
  return dtype == DType::kF32 ? kF32Tolerance : kBF16Tolerance;
}

Tensor random_input(const Shape& shape, uint64_t seed, DType dtype, float scale) {
  Generator generator(seed);
  Tensor values = Tensor::randn(shape, generator);
  if (scale != 1.0f) {
    float* data = values.data<float>();
    for (int64_t i = 0; i < values.numel(); ++i) data[i] *= scale;
  }
  return values.to(dtype);
}

Tensor tied_input(const Shape& shape, uint64_t seed, DType dtype) {
  Tensor values = random_input(shape, seed);
  float* data = values.data<float>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    data[i] = std::fmin(2.0f, std::fmax(-2.0f, std::round(data[i])));
  }
  return values.to(dtype);
}

void expect_relative_close(const Tensor& actual, const Tensor& expected, double relative_tolerance) {
  ASSERT_EQ(actual.shape(), expected.shape());
  const std::vector<float> got = actual.to(Device::cpu()).to(DType::kF32).to_vector<float>();
  const std::vector<float> want = expected.to(Device::cpu()).to(DType::kF32).to_vector<float>();
  double difference = 0.0;
  double reference = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) continue;
    ASSERT_FALSE(std::isnan(got[i])) << "element " << i << " is NaN (unwritten?) where "
                                     << want[i] << " was expected";
    if (std::isinf(want[i])) {
      ASSERT_EQ(got[i], want[i]) << "element " << i;
      continue;
    }
    difference += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    reference += static_cast<double>(want[i]) * want[i];
  }
  if (reference == 0.0) {
    EXPECT_EQ(difference, 0.0) << "the reference is all zeros";
    return;
  }
  EXPECT_LE(std::sqrt(difference / reference), relative_tolerance)
      << "||actual - expected|| / ||expected|| over " << got.size() << " elements";
}

Outcome run_on(Device device, const TensorFunction& f, const std::vector<Tensor>& inputs) {
  constexpr uint64_t kProbeSeed = 9001;
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    leaves.push_back(input.detach().to(device));
    leaves.back().set_requires_grad(RequiresGrad::kYes);
  }
  Outcome outcome{f(leaves), {}};
  const Tensor probe = random_input(outcome.output.shape(), kProbeSeed, outcome.output.dtype());
  outcome.output.backward(probe.to(device));
  for (const Tensor& leaf : leaves) outcome.grads.push_back(leaf.grad());
  return outcome;
}

void CudaTest::expect_matches_cpu(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                  double tolerance) {
  const Outcome expected = run_on(Device::cpu(), f, inputs);
  const Outcome actual = run_on(gpu(), f, inputs);
  ASSERT_EQ(actual.output.device(), gpu());
  {
    SCOPED_TRACE("output");
    expect_relative_close(actual.output, expected.output, tolerance);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "gradient of input " << i);
    ASSERT_EQ(actual.grads[i].defined(), expected.grads[i].defined());
    if (expected.grads[i].defined()) {
      expect_relative_close(actual.grads[i], expected.grads[i], tolerance);
    }
  }
}

void expect_equal_indices(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  EXPECT_EQ(actual.to(Device::cpu()).to(DType::kI64).to_vector<int64_t>(),
            expected.to(Device::cpu()).to(DType::kI64).to_vector<int64_t>());
}

}  // namespace hive::testing
