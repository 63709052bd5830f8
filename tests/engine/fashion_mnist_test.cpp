// Fashion-MNIST as Debian's dataset-fashion-mnist package installs it, and the error without it.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <string>

#include "engine/data/fashion_mnist.h"
#include "test_util.h"

namespace hive {
namespace {

// Loaded once for the whole suite: reading and standardizing 70,000 images takes a moment.
const Result<data::FashionMnist>& dataset() {
  static const Result<data::FashionMnist> loaded = data::load_fashion_mnist();
  return loaded;
}

bool installed() { return std::filesystem::exists(data::kFashionMnistDir); }

TEST(FashionMnist, HasTheDocumentedShapes) {
  if (!installed()) GTEST_SKIP() << data::kFashionMnistDir << " is not installed";
  ASSERT_TRUE(dataset().is_ok()) << dataset().message();
  const data::FashionMnist& mnist = dataset().value();
  EXPECT_EQ(mnist.train.images.shape(), (Shape{60000, 784}));
  EXPECT_EQ(mnist.train.labels.shape(), Shape{60000});
  EXPECT_EQ(mnist.test.images.shape(), (Shape{10000, 784}));
  EXPECT_EQ(mnist.test.labels.shape(), Shape{10000});
  EXPECT_EQ(mnist.train.images.dtype(), DType::kF32);
  EXPECT_EQ(mnist.train.labels.dtype(), DType::kI64);
}

TEST(FashionMnist, TrainingSetHasSixThousandOfEachClass) {
  if (!installed()) GTEST_SKIP() << data::kFashionMnistDir << " is not installed";
  ASSERT_TRUE(dataset().is_ok()) << dataset().message();
  std::array<int64_t, 10> counts{};
  for (int64_t label : dataset().value().train.labels.to_vector<int64_t>()) {
    ASSERT_TRUE(label >= 0 && label < 10) << label;
    ++counts[static_cast<size_t>(label)];
  }
  for (int64_t count : counts) EXPECT_EQ(count, 6000);
}

TEST(FashionMnist, TestLabelsAreClasses) {
  if (!installed()) GTEST_SKIP() << data::kFashionMnistDir << " is not installed";
  ASSERT_TRUE(dataset().is_ok()) << dataset().message();
  for (int64_t label : dataset().value().test.labels.to_vector<int64_t>()) {
    ASSERT_TRUE(label >= 0 && label < 10) << label;
  }
}

TEST(FashionMnist, TrainingImagesAreStandardized) {
  if (!installed()) GTEST_SKIP() << data::kFashionMnistDir << " is not installed";
  ASSERT_TRUE(dataset().is_ok()) << dataset().message();
  const Tensor& images = dataset().value().train.images;
  const float* pixels = images.data<float>();
  double sum = 0.0;
  double sum_of_squares = 0.0;
  for (int64_t i = 0; i < images.numel(); ++i) {
    sum += pixels[i];
    sum_of_squares += static_cast<double>(pixels[i]) * pixels[i];
  }
  const double mean = sum / static_cast<double>(images.numel());
  const double variance = sum_of_squares / static_cast<double>(images.numel()) - mean * mean;
  EXPECT_NEAR(mean, 0.0, 1e-3);
  EXPECT_NEAR(std::sqrt(variance), 1.0, 1e-3);
}

TEST(FashionMnist, MissingFilesNameThePackageToInstall) {
  const testing::ScopedTempDir dir;
  const Result<data::FashionMnist> result = data::load_fashion_mnist(dir.path());
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.message().find("apt-get install dataset-fashion-mnist"), std::string::npos)
      << result.message();
  EXPECT_NE(result.message().find(dir.path()), std::string::npos) << result.message();
}

}  // namespace
}  // namespace hive
