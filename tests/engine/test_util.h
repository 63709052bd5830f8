// Shared helpers for engine tests: comparisons with tolerances and a finite-difference gradient
// check.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/random.h"
#include "engine/core/tensor.h"

namespace hive::testing {

// Every element of `actual` within atol + rtol * |expected| of `expected` (same shape).
void expect_close(const Tensor& actual, const Tensor& expected, double atol = 1e-5,
                  double rtol = 1e-5);
void expect_close(const Tensor& actual, const std::vector<float>& expected, double atol = 1e-5,
                  double rtol = 1e-5);

// f32 leaf tensor with the given values, requiring grad.
Tensor parameter(const std::vector<float>& values, const Shape& shape);
// f32 leaf with standard-normal values from `seed`, requiring grad.
Tensor random_parameter(const Shape& shape, uint64_t seed, float scale = 1.0f);
// f32 tensor with standard-normal values from `seed`, times `scale`; no autograd.
Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f);

// Success when `action` throws hive::Error whose message contains every fragment (an op name, the
// offending shape, ...). Use it as EXPECT_TRUE(throws_error(...)) so failures point at the caller.
::testing::AssertionResult throws_error(const std::function<void()>& action,
                                        std::initializer_list<std::string_view> fragments);

// A fresh directory under the system's temporary directory, named after the running test, removed
// with its contents when this goes out of scope.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const;  // path() + "/" + name

 private:
  std::string path_;
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks the gradients that autograd computes for every input of `f` against central finite
// differences of L = sum(f(inputs) * probe), where probe is a fixed random tensor (so the whole
// vector-Jacobian product is tested, not just a plain sum). Inputs must be f32 leaves requiring
// grad; L is accumulated in double on the host. Failures name the input and element.
void expect_gradients_match(const TensorFunction& f, const std::vector<Tensor>& inputs,
                            double eps = 1e-3, double atol = 2e-3, double rtol = 1e-2);

}  // namespace hive::testing
