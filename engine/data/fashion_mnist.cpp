#include "engine/data/fashion_mnist.h"

#include <filesystem>

#include "engine/data/idx.h"

namespace hive::data {
namespace {

// Pixel statistics of the Fashion-MNIST training set (after scaling to [0, 1]).
constexpr float kPixelMean = 0.2860f;
constexpr float kPixelStd = 0.3530f;
constexpr int64_t kImageSide = 28;
constexpr int64_t kClasses = 10;

Result<Tensor> read_part(const std::string& directory, const std::string& stem) {
  const std::string plain = directory + "/" + stem;
  const std::string gzipped = plain + ".gz";
  if (std::filesystem::exists(gzipped)) return read_idx(gzipped);
  if (std::filesystem::exists(plain)) return read_idx(plain);
  return Status::error(str_cat("Fashion-MNIST: neither '", gzipped, "' nor '", plain,
                               "' exists (install it with: apt-get install dataset-fashion-mnist)"));
}

Result<LabeledImages> load_split(const std::string& directory, const std::string& prefix) {
  Result<Tensor> images = read_part(directory, prefix + "-images-idx3-ubyte");
  if (!images.is_ok()) return images.status();
  Result<Tensor> labels = read_part(directory, prefix + "-labels-idx1-ubyte");
  if (!labels.is_ok()) return labels.status();
  const Tensor& raw_images = images.value();
  const Tensor& raw_labels = labels.value();
  if (raw_images.dtype() != DType::kU8 || raw_images.rank() != 3 ||
      raw_images.size(1) != kImageSide || raw_images.size(2) != kImageSide) {
    return Status::error(str_cat("Fashion-MNIST: ", prefix, " images are ", raw_images.dtype(), " ",
                                 raw_images.shape(), ", expected u8 [n, 28, 28]"));
  }
  if (raw_labels.dtype() != DType::kU8 || raw_labels.rank() != 1 ||
      raw_labels.size(0) != raw_images.size(0)) {
    return Status::error(str_cat("Fashion-MNIST: ", prefix, " labels are ", raw_labels.dtype(), " ",
                                 raw_labels.shape(), ", expected u8 [", raw_images.size(0), "]"));
  }
  const int64_t count = raw_images.size(0);
  const uint8_t* pixels = raw_images.data<uint8_t>();
  Tensor standardized = Tensor::empty(Shape{count, kImageSide * kImageSide});
  float* out = standardized.data<float>();
  for (int64_t i = 0; i < standardized.numel(); ++i) {
    out[i] = (static_cast<float>(pixels[i]) / 255.0f - kPixelMean) / kPixelStd;
  }
  const uint8_t* classes = raw_labels.data<uint8_t>();
  Tensor label_tensor = Tensor::empty(Shape{count}, DType::kI64);
  for (int64_t i = 0; i < count; ++i) {
    if (classes[i] >= kClasses) {
      return Status::error(str_cat("Fashion-MNIST: ", prefix, " label ", int{classes[i]},
                                   " at position ", i, " is not a class in [0, 10)"));
    }
    label_tensor.data<int64_t>()[i] = classes[i];
  }
  return LabeledImages{standardized, label_tensor};
}

}  // namespace

Result<FashionMnist> load_fashion_mnist(const std::string& directory) {
  Result<LabeledImages> train = load_split(directory, "train");
  if (!train.is_ok()) return train.status();
  Result<LabeledImages> test = load_split(directory, "t10k");
  if (!test.is_ok()) return test.status();
  return FashionMnist{std::move(train).value(), std::move(test).value()};
}

}  // namespace hive::data
