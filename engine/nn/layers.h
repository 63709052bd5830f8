// Basic layers: Linear, LayerNorm, Embedding, Dropout, activations and Sequential.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/random.h"
#include "engine/nn/module.h"

namespace hive::nn {

enum class Bias : uint8_t { kNo, kYes };

// Mixed precision: parameters stay f32 (the master copies the optimizer updates, with f32
// state); an input in another floating dtype (bf16) computes with a differentiable cast of them
// to its dtype, so the math runs in bf16 and the gradients come back to the parameters in f32.
// Returns the parameter itself when the dtypes agree or it is undefined.
Tensor in_compute_dtype(const Tensor& parameter, const Tensor& input);
// The same for many parameters, cast together (one or a few launches on a device, not one each).
std::vector<Tensor> in_compute_dtype(std::span<const Tensor> parameters, const Tensor& input);

// y = x W^T + b with W [out, in] (PyTorch's layout and initialization: W and b uniform in
// +-1/sqrt(in)).
class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& generator, Bias bias = Bias::kYes);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias

 private:
  Tensor weight_;
  Tensor bias_;
};

// Normalizes the last axis; weight starts at 1 and bias at 0.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(int64_t features, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  float eps() const { return eps_; }

 private:
  Tensor weight_;
  Tensor bias_;
  float eps_;
};

// A table of `count` vectors of size `dim`, initialized standard normal; forward takes i32/i64 ids.
class Embedding : public UnaryModule {
 public:
  Embedding(int64_t count, int64_t dim, Generator& generator);
  Tensor forward(const Tensor& ids) override;
  const Tensor& weight() const { return weight_; }

 private:
  Tensor weight_;
};

// Active only in Mode::kTrain; each call draws a fresh mask from its own seeded generator.
class Dropout : public UnaryModule {
 public:
  Dropout(float p, uint64_t seed);
  Tensor forward(const Tensor& x) override;

 private:
  float p_;
  Generator generator_;
};

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override;
};

class GELU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override;
};

// An indexed list of modules, named "0", "1", ... as in PyTorch (no forward of its own).
class ModuleList : public Module {
 public:
  ModuleList& add(std::shared_ptr<UnaryModule> module);
  size_t size() const { return modules_.size(); }
  UnaryModule& operator[](size_t index) { return *modules_.at(index); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

// Runs its children in order; they are named "0", "1", ... as in PyTorch.
class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  Sequential& add(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  UnaryModule& operator[](size_t index) { return *layers_.at(index); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

}  // namespace hive::nn
