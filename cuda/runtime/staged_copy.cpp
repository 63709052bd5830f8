#include "cuda/runtime/staged_copy.h"

#include <algorithm>
#include <cstring>

#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/stream_slots.h"

namespace hive::cuda {

void copy_host_to_device(const std::byte* host, std::byte* device_memory, size_t bytes, int device) {
  DeviceGuard guard(device);
  StreamSlot& slot = current_slot(device);
  std::lock_guard lock(slot.staging_mutex);
  size_t chunk_index = 0;
  for (size_t offset = 0; offset < bytes; offset += kStagingChunkBytes, ++chunk_index) {
    const size_t buffer = chunk_index % 2;
    const size_t length = std::min(kStagingChunkBytes, bytes - offset);
    // The DMA that last read this buffer (this copy's chunk before the previous one, or an
    // earlier copy's) must be done before it is overwritten.
    HIVE_CUDA_CHECK(cudaEventSynchronize(slot.staging_done[buffer]));
    std::memcpy(slot.staging[buffer], host + offset, length);
    HIVE_CUDA_CHECK(cudaMemcpyAsync(device_memory + offset, slot.staging[buffer], length,
                                    cudaMemcpyHostToDevice, slot.stream));
    HIVE_CUDA_CHECK(cudaEventRecord(slot.staging_done[buffer], slot.stream));
  }
  HIVE_CUDA_CHECK(cudaStreamSynchronize(slot.stream));
}

void copy_device_to_host(const std::byte* device_memory, std::byte* host, size_t bytes, int device) {
  DeviceGuard guard(device);
  StreamSlot& slot = current_slot(device);
  std::lock_guard lock(slot.staging_mutex);
  const size_t chunks = (bytes + kStagingChunkBytes - 1) / kStagingChunkBytes;
  const auto issue = [&](size_t chunk) {
    const size_t buffer = chunk % 2;
    const size_t offset = chunk * kStagingChunkBytes;
    // An earlier host-to-device copy may still be reading this buffer.
    HIVE_CUDA_CHECK(cudaEventSynchronize(slot.staging_done[buffer]));
    HIVE_CUDA_CHECK(cudaMemcpyAsync(slot.staging[buffer], device_memory + offset,
                                    std::min(kStagingChunkBytes, bytes - offset),
                                    cudaMemcpyDeviceToHost, slot.stream));
    HIVE_CUDA_CHECK(cudaEventRecord(slot.staging_done[buffer], slot.stream));
  };
  if (chunks > 0) issue(0);
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    if (chunk + 1 < chunks) issue(chunk + 1);
    const size_t buffer = chunk % 2;
    const size_t offset = chunk * kStagingChunkBytes;
    HIVE_CUDA_CHECK(cudaEventSynchronize(slot.staging_done[buffer]));
    std::memcpy(host + offset, slot.staging[buffer], std::min(kStagingChunkBytes, bytes - offset));
  }
}

}  // namespace hive::cuda
