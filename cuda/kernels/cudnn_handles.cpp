#include "cuda/kernels/cudnn_handles.h"

#include <map>
#include <memory>

#include "cuda/runtime/cudnn_check.h"
#include "cuda/runtime/device_guard.h"

namespace hive::cuda {

CudnnHandle& cudnn_handle(StreamSlot& slot) {
  // Never destroyed, like the slots themselves: work queued on their streams may still run
  // during static destruction. Entries are never erased, so references stay valid.
  static auto* mutex = new std::mutex();
  static auto* handles = new std::map<const StreamSlot*, std::unique_ptr<CudnnHandle>>();
  std::lock_guard lock(*mutex);
  std::unique_ptr<CudnnHandle>& entry = (*handles)[&slot];
  if (entry == nullptr) {
    DeviceGuard guard(slot.device);
    auto made = std::make_unique<CudnnHandle>();
    HIVE_CUDNN_CHECK(cudnnCreate(&made->handle));
    const cudnnStatus_t bound = cudnnSetStream(made->handle, slot.stream);
    if (bound != CUDNN_STATUS_SUCCESS) static_cast<void>(cudnnDestroy(made->handle));
    HIVE_CUDNN_CHECK(bound);
    entry = std::move(made);
  }
  return *entry;
}

}  // namespace hive::cuda
