#include "engine/core/tensor.h"

#include "engine/autograd/backward.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/autograd/record.h"
#include "engine/core/backend.h"
#include "engine/core/random.h"

namespace hive {
namespace {

std::shared_ptr<TensorImpl> allocate_impl(const Shape& shape, DType dtype, Device device) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(backend_for(device).allocate(bytes, device), bytes,
                                            device);
  impl->shape = shape;
  impl->dtype = dtype;
  return impl;
}

}  // namespace

TensorImpl& Tensor::impl() const {
  HIVE_REQUIRE(impl_ != nullptr, "operation on an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(allocate_impl(shape, dtype, device));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor result = empty(shape, dtype, device);
  backend_for(device).fill(result, value);
  return result;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full(Shape{}, value, dtype, device);
}

Tensor Tensor::arange(int64_t count, DType dtype, Device device) {
  HIVE_REQUIRE(count >= 0, "Tensor::arange: negative count ", count);
  Tensor result = empty(Shape{count}, dtype, device);
  backend_for(device).arange(result);
  return result;
}

Tensor Tensor::randn(const Shape& shape, Generator& generator, DType dtype, Device device) {
  HIVE_REQUIRE(is_floating(dtype), "Tensor::randn: dtype ", dtype, " is not a floating type");
  Tensor result = empty(shape, dtype, device);
  backend_for(device).fill_normal(result, generator.take(static_cast<uint64_t>(shape.numel())),
                                  0.0, 1.0);
  return result;
}

Tensor Tensor::rand(const Shape& shape, Generator& generator, double low, double high, DType dtype,
                    Device device) {
  HIVE_REQUIRE(is_floating(dtype), "Tensor::rand: dtype ", dtype, " is not a floating type");
  HIVE_REQUIRE(low < high, "Tensor::rand: empty range [", low, ", ", high, ")");
  Tensor result = empty(shape, dtype, device);
  backend_for(device).fill_uniform(result, generator.take(static_cast<uint64_t>(shape.numel())),
                                   low, high);
  return result;
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  HIVE_REQUIRE(data != nullptr || bytes == 0, "Tensor::from_blob: null data for shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  // The aliasing constructor: the storage points at `data` and keeps `owner` alive.
  impl->storage = std::make_shared<Storage>(
      std::shared_ptr<std::byte>(std::move(owner), static_cast<std::byte*>(data)), bytes,
      Device::cpu());
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

bool Tensor::is_uniquely_owned() const {
  return impl_ != nullptr && impl_.use_count() == 1 && impl_->storage.use_count() == 1;
}

const Shape& Tensor::shape() const { return impl().shape; }
DType Tensor::dtype() const { return impl().dtype; }
Device Tensor::device() const { return impl().storage->device(); }

int64_t Tensor::size(int axis) const { return shape()[shape().normalize_axis(axis, "size")]; }

void* Tensor::raw_data() const {
  return impl().storage->data() + impl().byte_offset;
}

void Tensor::require_dtype(DType dtype, const char* what) const {
  HIVE_REQUIRE(this->dtype() == dtype, what, ": tensor has dtype ", this->dtype(), ", expected ",
               dtype);
  HIVE_REQUIRE(device().is_cpu(), what, ": tensor is on ", device(),
               "; copy it to the CPU with to(Device::cpu()) first");
}

template <typename T>
T Tensor::item() const {
  HIVE_REQUIRE(numel() == 1, "Tensor::item: tensor of shape ", shape(), " has ", numel(),
               " elements, expected 1");
  return to_vector<T>()[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  const Tensor host = to(Device::cpu()).to(dtype_of<T>());
  const T* begin = host.data<T>();
  return std::vector<T>(begin, begin + host.numel());
}

#define HIVE_INSTANTIATE_ACCESSORS(T)       \
  template T Tensor::item<T>() const;       \
  template std::vector<T> Tensor::to_vector<T>() const;
HIVE_INSTANTIATE_ACCESSORS(float)
HIVE_INSTANTIATE_ACCESSORS(Half)
HIVE_INSTANTIATE_ACCESSORS(BFloat16)
HIVE_INSTANTIATE_ACCESSORS(int32_t)
HIVE_INSTANTIATE_ACCESSORS(int64_t)
HIVE_INSTANTIATE_ACCESSORS(uint8_t)
#undef HIVE_INSTANTIATE_ACCESSORS

Tensor Tensor::reshape(const Shape& new_shape) const {
  HIVE_REQUIRE(new_shape.numel() == numel(), "reshape: cannot view shape ", shape(), " (",
               numel(), " elements) as ", new_shape, " (", new_shape.numel(), " elements)");
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl().storage;
  view->byte_offset = impl().byte_offset;
  view->shape = new_shape;
  view->dtype = dtype();
  Tensor result(std::move(view));
  if (should_record({this})) {
    record_op("reshape", {this}, {&result},
              [input_shape = shape()](const GradContext& context) -> std::vector<Tensor> {
                return {context.grad().reshape(input_shape)};
              });
  }
  return result;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  HIVE_REQUIRE(rank() >= 1, "rows: tensor of shape ", shape(), " has no rows");
  HIVE_REQUIRE(0 <= begin && begin <= end && end <= shape()[0], "rows: range [", begin, ", ", end,
               ") is outside the ", shape()[0], " rows of shape ", shape());
  const int64_t row_elements = shape().numel(1, rank());
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl().storage;
  view->byte_offset =
      impl().byte_offset + static_cast<size_t>(begin * row_elements) * dtype_size(dtype());
  view->shape = shape().with(0, end - begin);
  view->dtype = dtype();
  Tensor result(std::move(view));
  if (should_record({this})) {
    record_op("rows", {this}, {&result},
              [input_shape = shape(), begin, end](const GradContext& context)
                  -> std::vector<Tensor> {
                const Tensor& grad = context.grad();
                Tensor grad_input = Tensor::zeros(input_shape, grad.dtype(), grad.device());
                grad_input.rows(begin, end).copy_from(grad);
                return {grad_input};
              });
  }
  return result;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor result = empty(shape(), dtype(), device);
  // The non-CPU side's backend knows how to reach the CPU.
  backend_for(device.is_cpu() ? this->device() : device).copy(*this, result);
  if (should_record({this})) {
    record_op("to_device", {this}, {&result},
              [source_device = this->device()](const GradContext& context)
                  -> std::vector<Tensor> { return {context.grad().to(source_device)}; });
  }
  return result;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  Tensor result = empty(shape(), dtype, device());
  backend_for(device()).cast(*this, result);
  if (should_record({this}) && is_floating(dtype) && is_floating(this->dtype())) {
    record_op("to_dtype", {this}, {&result},
              [source_dtype = this->dtype()](const GradContext& context) -> std::vector<Tensor> {
                return {context.grad().to(source_dtype)};
              });
  }
  return result;
}

Tensor Tensor::clone() const {
  Tensor result = empty(shape(), dtype(), device());
  backend_for(device()).copy(*this, result);
  if (should_record({this})) {
    record_op("clone", {this}, {&result},
              [](const GradContext& context) -> std::vector<Tensor> { return {context.grad()}; });
  }
  return result;
}

void Tensor::copy_from(const Tensor& source) const {
  HIVE_REQUIRE(source.shape() == shape(), "copy_from: source shape ", source.shape(),
               " differs from destination shape ", shape());
  const Tensor converted = source.to(dtype());
  // The non-CPU side's backend knows how to reach the CPU (and CPU to CPU is the CPU's).
  backend_for(device().is_cpu() ? converted.device() : device()).copy(converted, *this);
}

Tensor Tensor::detach() const {
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl().storage;
  view->byte_offset = impl().byte_offset;
  view->shape = shape();
  view->dtype = dtype();
  return Tensor(std::move(view));
}

void Tensor::move_to(Device device) const {
  HIVE_REQUIRE(is_leaf(), "move_to: only leaf tensors move in place; this one was produced by op '",
               grad_fn()->name(), "'");
  if (device == this->device()) return;
  const Tensor moved = detach().to(device);
  impl().storage = moved.impl().storage;
  impl().byte_offset = moved.impl().byte_offset;
  zero_grad();
}

AutogradMeta* Tensor::autograd_meta() const { return impl().autograd.get(); }

bool Tensor::requires_grad() const {
  const AutogradMeta* meta = autograd_meta();
  return meta != nullptr && meta->requires_grad;
}

const Tensor& Tensor::set_requires_grad(RequiresGrad requires_grad) const {
  HIVE_REQUIRE(is_leaf(), "set_requires_grad: only leaf tensors can be marked; this one was "
               "produced by op '", grad_fn()->name(), "' (use detach() to make a new leaf)");
  if (requires_grad == RequiresGrad::kYes) {
    HIVE_REQUIRE(is_floating(dtype()), "set_requires_grad: dtype ", dtype(),
                 " cannot have gradients; only floating tensors can");
    if (!impl().autograd) impl().autograd = std::make_unique<AutogradMeta>();
    impl().autograd->requires_grad = true;
  } else if (impl().autograd) {
    impl().autograd->requires_grad = false;
  }
  return *this;
}

bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

Tensor Tensor::grad() const {
  const AutogradMeta* meta = autograd_meta();
  return meta ? meta->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  HIVE_REQUIRE(!grad.defined() || grad.shape() == shape(), "set_grad: gradient shape ",
               grad.shape(), " differs from tensor shape ", shape());
  if (!impl().autograd) impl().autograd = std::make_unique<AutogradMeta>();
  impl().autograd->grad = grad;
}

void Tensor::zero_grad() const {
  if (AutogradMeta* meta = autograd_meta()) meta->grad = Tensor();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> kNone;
  const AutogradMeta* meta = autograd_meta();
  return meta ? meta->grad_fn : kNone;
}

uint32_t Tensor::output_index() const {
  const AutogradMeta* meta = autograd_meta();
  return meta ? meta->output_index : 0;
}

void Tensor::set_grad_fn(std::shared_ptr<Node> node, uint32_t output_index) const {
  if (!impl().autograd) impl().autograd = std::make_unique<AutogradMeta>();
  impl().autograd->requires_grad = true;
  impl().autograd->grad_fn = std::move(node);
  impl().autograd->output_index = output_index;
}

void Tensor::backward(const Tensor& gradient, RetainGraph retain) const {
  run_backward(*this, gradient, retain);
}

}  // namespace hive
