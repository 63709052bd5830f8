// One cuDNN handle per stream slot, bound to the slot's stream and made on first use (as the
// slot's cuBLAS handle is): most processes never run the fused attention, and each handle costs
// device memory. Kept here, not in StreamSlot, so stream_slots.h builds without cuDNN.
// Built only with cuDNN.
#pragma once

#include <cudnn.h>

#include <mutex>

#include "cuda/runtime/stream_slots.h"

namespace hive::cuda {

// A slot's handle and the lock its users hold while they enqueue work with it: cuDNN allows
// many threads, but not on one handle at the same time (threads sharing a slot share it).
struct CudnnHandle {
  cudnnHandle_t handle = nullptr;
  std::mutex in_use;
};

// The handle of `slot`, created on first use; lives as long as the process, like the slot.
CudnnHandle& cudnn_handle(StreamSlot& slot);

}  // namespace hive::cuda
