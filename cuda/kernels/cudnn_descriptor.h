// An owning wrapper for one cuDNN backend descriptor (a tensor, an operation, a graph, a plan,
// a variant pack): created in the constructor, destroyed in the destructor, every attribute set
// and the finalize checked. Descriptors are host objects; move-only, since each owns its handle.
// Built only with cuDNN.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <span>
#include <utility>

#include "cuda/runtime/cudnn_check.h"

namespace hive::cuda {

class BackendDescriptor {
 public:
  explicit BackendDescriptor(cudnnBackendDescriptorType_t type) {
    HIVE_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &descriptor_));
  }
  ~BackendDescriptor() {
    if (descriptor_ != nullptr) static_cast<void>(cudnnBackendDestroyDescriptor(descriptor_));
  }
  BackendDescriptor(BackendDescriptor&& other) noexcept
      : descriptor_(std::exchange(other.descriptor_, nullptr)) {}
  BackendDescriptor& operator=(BackendDescriptor&& other) noexcept {
    std::swap(descriptor_, other.descriptor_);
    return *this;
  }
  BackendDescriptor(const BackendDescriptor&) = delete;
  BackendDescriptor& operator=(const BackendDescriptor&) = delete;

  // `count` elements of `type` (cudnnBackendAttributeType_t, as documented for the attribute).
  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
           const void* values) {
    HIVE_CUDNN_CHECK(cudnnBackendSetAttribute(descriptor_, name, type, count, values));
  }
  void set_int64(cudnnBackendAttributeName_t name, int64_t value) {
    set(name, CUDNN_TYPE_INT64, 1, &value);
  }
  void set_int64s(cudnnBackendAttributeName_t name, std::span<const int64_t> values) {
    set(name, CUDNN_TYPE_INT64, static_cast<int64_t>(values.size()), values.data());
  }
  void set_bool(cudnnBackendAttributeName_t name, bool value) {
    set(name, CUDNN_TYPE_BOOLEAN, 1, &value);
  }
  void set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t value) {
    set(name, CUDNN_TYPE_DATA_TYPE, 1, &value);
  }
  void set_descriptor(cudnnBackendAttributeName_t name, const BackendDescriptor& value) {
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value.descriptor_);
  }
  void finalize() { HIVE_CUDNN_CHECK(cudnnBackendFinalize(descriptor_)); }

  cudnnBackendDescriptor_t get() const { return descriptor_; }

 private:
  cudnnBackendDescriptor_t descriptor_ = nullptr;
};

}  // namespace hive::cuda
