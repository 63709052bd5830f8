// Makes a device current for a scope and restores the previous one after it: backend calls may
// come from threads that work on several devices.
#pragma once

#include <cuda_runtime.h>

#include "cuda/runtime/check.h"

namespace hive::cuda {

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    HIVE_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) HIVE_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { static_cast<void>(cudaSetDevice(previous_)); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace hive::cuda
