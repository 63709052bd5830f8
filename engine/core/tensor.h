// Tensor: a shared handle to storage + shape + dtype + device.
//
// Tensors are contiguous and row-major. Copying a Tensor copies the handle, not the data
// (like std::shared_ptr); clone() copies the data. reshape() and rows() are views that share
// storage. A default-constructed Tensor is undefined (defined() == false): it is what grad()
// returns before any backward pass, and what a backward function returns for an input that
// gets no gradient.
//
// Autograd: a tensor that requires grad records, for every op it flows through, a node that
// knows how to push gradients back (engine/autograd). Tensors that do not require grad carry
// no autograd state at all.
#pragma once

#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/element_type.h"
#include "engine/core/error.h"
#include "engine/core/shape.h"
#include "engine/core/storage.h"

namespace hive {

class Node;
class Generator;
struct AutogradMeta;
struct TensorImpl;

enum class RequiresGrad : uint8_t { kNo, kYes };
enum class RetainGraph : uint8_t { kNo, kYes };

class Tensor {
 public:
  Tensor() = default;

  // --- Creation. All default to f32 on the CPU. ---
  static Tensor empty(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::kF32,
                     Device device = Device::cpu());
  // [0, 1, ..., count - 1]
  static Tensor arange(int64_t count, DType dtype = DType::kI64, Device device = Device::cpu());
  // Standard normal / uniform in [low, high), drawn from `generator` (which advances), so a fixed
  // seed gives the same numbers on every machine and every device.
  static Tensor randn(const Shape& shape, Generator& generator, DType dtype = DType::kF32,
                      Device device = Device::cpu());
  static Tensor rand(const Shape& shape, Generator& generator, double low = 0.0, double high = 1.0,
                     DType dtype = DType::kF32, Device device = Device::cpu());
  // Wraps existing CPU memory without copying; `owner` keeps it alive as long as any tensor
  // views it (pass nullptr when the caller guarantees the lifetime).
  static Tensor from_blob(void* data, const Shape& shape, DType dtype,
                          std::shared_ptr<void> owner);
  // Copies `values` into a new CPU tensor of the given shape (numel must match).
  template <typename T>
  static Tensor from_vector(std::span<const T> values, const Shape& shape);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
    return from_vector(std::span<const T>(values), shape);
  }
  // A scalar (rank 0) tensor.
  static Tensor scalar(double value, DType dtype = DType::kF32, Device device = Device::cpu());

  // --- Properties. ---
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int rank() const { return shape().rank(); }
  int64_t size(int axis) const;  // negative axes count from the end
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  // True when both handles view the same bytes of the same storage with the same shape.
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // True when this handle is the only one to this tensor and no other tensor views its storage:
  // then its memory may be reused in place without anyone noticing (autograd's gradient buffers).
  bool is_uniquely_owned() const;

  // --- Raw access. data<T>() requires a CPU tensor of dtype T. ---
  void* raw_data() const;
  template <typename T>
  T* data() const;
  template <typename T>
  T item() const;  // the single element, converted to T (copies from the device if needed)
  template <typename T>
  std::vector<T> to_vector() const;  // all elements (copies from the device if needed)

  // --- Views (share storage). ---
  Tensor reshape(const Shape& shape) const;  // same numel
  Tensor flatten() const { return reshape(Shape{numel()}); }
  Tensor rows(int64_t begin, int64_t end) const;  // [begin, end) along axis 0

  // --- Copies. ---
  Tensor to(Device device) const;  // same tensor if already there
  Tensor to(DType dtype) const;    // same tensor if already that dtype
  Tensor clone() const;
  // Copies `source`'s values into this tensor's storage (same shape; dtype and device may
  // differ). Not recorded by autograd: for loading weights and optimizer updates.
  void copy_from(const Tensor& source) const;
  // Same storage, no autograd history: gradients do not flow through the result.
  Tensor detach() const;
  // Moves this tensor's data to `device` in place: every handle to this tensor sees the new
  // device (how a module moves its parameters). Only for leaves; drops the gradient. Views made
  // earlier keep the old storage.
  void move_to(Device device) const;

  // --- Autograd. ---
  bool requires_grad() const;
  // Marks a leaf tensor (one not produced by a recorded op) as a parameter that accumulates
  // gradients. Returns *this for chaining.
  const Tensor& set_requires_grad(RequiresGrad requires_grad) const;
  bool is_leaf() const;
  // The accumulated gradient of a leaf; undefined before the first backward pass. Later passes
  // add into this same buffer in place (as PyTorch does), so a handle kept from here sees them;
  // zero_grad() detaches it: the next pass starts a new buffer.
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // drops the gradient (the next backward pass starts from zero)
  // The node that produced this tensor, or null for leaves and tensors without grad.
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_index() const;  // which output of grad_fn() this tensor is
  // Backpropagates from this tensor. Without `gradient` the tensor must hold one element and the
  // gradient is 1. The graph is freed afterwards unless retain == RetainGraph::kYes.
  void backward(const Tensor& gradient = Tensor(), RetainGraph retain = RetainGraph::kNo) const;

  // For autograd's recording code (engine/autograd/record.cpp): attaches a producing node.
  void set_grad_fn(std::shared_ptr<Node> node, uint32_t output_index) const;
  AutogradMeta* autograd_meta() const;

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  TensorImpl& impl() const;
  void require_dtype(DType dtype, const char* what) const;

  friend class WeakTensor;
  std::shared_ptr<TensorImpl> impl_;
};

// A non-owning reference to a tensor: lock() returns it while someone else keeps it alive, and
// an undefined tensor after that.
class WeakTensor {
 public:
  explicit WeakTensor(const Tensor& tensor) : impl_(tensor.impl_) {}
  Tensor lock() const { return Tensor(impl_.lock()); }

 private:
  std::weak_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_index = 0;
  // For leaves: the node that accumulates into `grad`, shared by every op that uses the leaf.
  std::weak_ptr<Node> grad_accumulator;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t byte_offset = 0;
  Shape shape;
  DType dtype = DType::kF32;
  std::unique_ptr<AutogradMeta> autograd;  // null unless gradients are involved
};

template <typename T>
T* Tensor::data() const {
  require_dtype(dtype_of<T>(), "data<T>()");
  return static_cast<T*>(raw_data());
}

template <typename T>
Tensor Tensor::from_vector(std::span<const T> values, const Shape& shape) {
  HIVE_REQUIRE(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: ",
               values.size(), " values do not fill shape ", shape);
  Tensor result = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(result.raw_data(), values.data(), values.size_bytes());
  return result;
}

}  // namespace hive
