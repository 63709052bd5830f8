// Stream-ordered device memory from the device's CUDA memory pool (cudaMallocAsync), which keeps
// freed blocks for reuse instead of returning them to the driver: no per-op cudaMalloc.
#pragma once

#include <cstddef>
#include <memory>

#include "cuda/cuda.h"

namespace hive::cuda {

// `bytes` of uninitialized memory on `device`, ordered on the calling thread's stream; released
// on that same stream when the last owner drops it. Throws hive::Error on out of memory, saying
// how much was asked and how much is free.
std::shared_ptr<std::byte> allocate_device_memory(size_t bytes, int device);

bool poison_allocations();

}  // namespace hive::cuda
