#include "test_util.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "engine/autograd/grad_mode.h"

namespace hive::testing {

void expect_close(const Tensor& actual, const std::vector<float>& expected, double atol,
                  double rtol) {
  ASSERT_TRUE(actual.defined());
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(expected.size())) << "shape " << actual.shape();
  const std::vector<float> values = actual.to_vector<float>();
  for (size_t i = 0; i < values.size(); ++i) {
    const double tolerance = atol + rtol * std::abs(expected[i]);
    EXPECT_NEAR(values[i], expected[i], tolerance) << "element " << i << " of shape " << actual.shape();
  }
}

void expect_close(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  ASSERT_EQ(actual.shape(), expected.shape());
  expect_close(actual, expected.to_vector<float>(), atol, rtol);
}

Tensor parameter(const std::vector<float>& values, const Shape& shape) {
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad(RequiresGrad::kYes);
  return t;
}

Tensor random_parameter(const Shape& shape, uint64_t seed, float scale) {
  Generator generator(seed);
  Tensor t = Tensor::randn(shape, generator);
  float* data = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) data[i] *= scale;
  t.set_requires_grad(RequiresGrad::kYes);
  return t;
}

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale) {
  return random_parameter(shape, seed, scale).detach();
}

::testing::AssertionResult throws_error(const std::function<void()>& action,
                                        std::initializer_list<std::string_view> fragments) {
  try {
    action();
  } catch (const Error& error) {
    const std::string_view message = error.what();
    for (std::string_view fragment : fragments) {
      if (message.find(fragment) == std::string_view::npos) {
        return ::testing::AssertionFailure()
               << "error message \"" << message << "\" lacks \"" << fragment << "\"";
      }
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no hive::Error was thrown";
}

ScopedTempDir::ScopedTempDir() {
  static std::atomic<int> count{0};  // tells apart several directories of one test
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = test != nullptr
                               ? str_cat(test->test_suite_name(), "-", test->name())
                               : std::string("no-test");
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / str_cat("hive-", name, "-", ::getpid(), "-", count++);
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  path_ = directory.string();
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ignored;  // a failed cleanup must not turn into a failed test
  std::filesystem::remove_all(path_, ignored);
}

std::string ScopedTempDir::file(std::string_view name) const {
  return str_cat(path_, "/", name);
}

namespace {

double weighted_sum(const Tensor& output, const std::vector<float>& probe) {
  const std::vector<float> values = output.to_vector<float>();
  double total = 0.0;
  for (size_t i = 0; i < values.size(); ++i) total += static_cast<double>(values[i]) * probe[i];
  return total;
}

}  // namespace

void expect_gradients_match(const TensorFunction& f, const std::vector<Tensor>& inputs, double eps,
                            double atol, double rtol) {
  for (const Tensor& input : inputs) {
    ASSERT_TRUE(input.requires_grad() && input.is_leaf() && input.dtype() == DType::kF32);
    input.zero_grad();
  }
  const Tensor output = f(inputs);
  Generator generator(12345);
  const Tensor probe_tensor = Tensor::randn(output.shape(), generator);
  const std::vector<float> probe = probe_tensor.to_vector<float>();
  output.backward(probe_tensor);

  NoGradGuard no_grad;
  for (size_t n = 0; n < inputs.size(); ++n) {
    const Tensor& input = inputs[n];
    const Tensor analytic = input.grad();
    ASSERT_TRUE(analytic.defined()) << "input " << n << " got no gradient";
    const std::vector<float> analytic_values = analytic.to_vector<float>();
    float* data = input.data<float>();
    for (int64_t i = 0; i < input.numel(); ++i) {
      const float original = data[i];
      data[i] = original + static_cast<float>(eps);
      const double plus = weighted_sum(f(inputs), probe);
      data[i] = original - static_cast<float>(eps);
      const double minus = weighted_sum(f(inputs), probe);
      data[i] = original;
      const double numeric = (plus - minus) / (2.0 * eps);
      EXPECT_NEAR(analytic_values[static_cast<size_t>(i)], numeric, atol + rtol * std::abs(numeric))
          << "gradient of input " << n << " (shape " << input.shape() << "), element " << i;
    }
  }
}

}  // namespace hive::testing
