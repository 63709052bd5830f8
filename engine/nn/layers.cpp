#include "engine/nn/layers.h"

#include <cmath>
#include <string>

#include "engine/ops.h"

namespace hive::nn {

Tensor in_compute_dtype(const Tensor& parameter, const Tensor& input) {
  if (!parameter.defined() || parameter.dtype() == input.dtype() || !is_floating(input.dtype())) {
    return parameter;
  }
  return parameter.to(input.dtype());
}

std::vector<Tensor> in_compute_dtype(std::span<const Tensor> parameters, const Tensor& input) {
  if (!is_floating(input.dtype())) return {parameters.begin(), parameters.end()};
  return to_dtype(parameters, input.dtype());
}

Linear::Linear(int64_t in_features, int64_t out_features, Generator& generator, Bias bias) {
  HIVE_REQUIRE(in_features > 0 && out_features > 0, "Linear: features must be positive, got in=",
               in_features, " out=", out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter(
      "weight", Tensor::rand(Shape{out_features, in_features}, generator, -bound, bound));
  if (bias == Bias::kYes) {
    bias_ = register_parameter("bias", Tensor::rand(Shape{out_features}, generator, -bound, bound));
  }
}

Tensor Linear::forward(const Tensor& x) {
  return linear(x, in_compute_dtype(weight_, x), in_compute_dtype(bias_, x));
}

LayerNorm::LayerNorm(int64_t features, float eps) : eps_(eps) {
  HIVE_REQUIRE(features > 0, "LayerNorm: features must be positive, got ", features);
  weight_ = register_parameter("weight", Tensor::ones(Shape{features}));
  bias_ = register_parameter("bias", Tensor::zeros(Shape{features}));
}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, in_compute_dtype(weight_, x), in_compute_dtype(bias_, x), eps_);
}

Embedding::Embedding(int64_t count, int64_t dim, Generator& generator) {
  HIVE_REQUIRE(count > 0 && dim > 0, "Embedding: count and dim must be positive, got ", count,
               " and ", dim);
  weight_ = register_parameter("weight", Tensor::randn(Shape{count, dim}, generator));
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight_, ids); }

Dropout::Dropout(float p, uint64_t seed) : p_(p), generator_(seed) {
  HIVE_REQUIRE(p >= 0.0f && p < 1.0f, "Dropout: probability ", p, " is outside [0, 1)");
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p_ == 0.0f) return x;
  return dropout(x, p_, generator_.next_seed());
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }

ModuleList& ModuleList::add(std::shared_ptr<UnaryModule> module) {
  modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
  return *this;
}

Sequential& Sequential::add(std::shared_ptr<UnaryModule> module) {
  layers_.push_back(register_module(std::to_string(layers_.size()), std::move(module)));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor out = x;
  for (const auto& layer : layers_) out = layer->forward(out);
  return out;
}

}  // namespace hive::nn
