// Fashion-MNIST: 60,000 training and 10,000 test images of 28x28 clothing items in 10 classes.
// Debian's dataset-fashion-mnist package installs it under kFashionMnistDir.
#pragma once

#include <string>

#include "engine/core/status.h"
#include "engine/core/tensor.h"

namespace hive::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct LabeledImages {
  Tensor images;  // f32 [n, 784], standardized with the training set's mean and std
  Tensor labels;  // i64 [n], classes 0..9
};

struct FashionMnist {
  LabeledImages train;
  LabeledImages test;
};

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz) from `directory` and checks their shapes
// and labels.
Result<FashionMnist> load_fashion_mnist(const std::string& directory = kFashionMnistDir);

}  // namespace hive::data
