#include "cuda/runtime/staged_copy.h"

#include <algorithm>
#include <cstring>

#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/stream_slots.h"

namespace hive::cuda {

void copy_host_to_device(const std::byte* host, std::byte* device_memory, size_t bytes, int device) {
  DeviceGuard guard(device);
  copy_host_to_device_async(host, device_memory, bytes, device);
  HIVE_CUDA_CHECK(cudaStreamSynchronize(current_stream(device)));
}

void copy_host_to_device_async(const std::byte* host, std::byte* device_memory, size_t bytes,
                               int device) {
  DeviceGuard guard(device);
  StreamSlot& slot = current_slot(device);
  std::lock_guard lock(slot.staging_mutex);
  for (size_t offset = 0; offset < bytes;) {
    if (slot.staging_offset == kStagingChunkBytes) {
      // The other buffer comes round: the copies that last read it must be done before it is
      // overwritten (this upload's previous piece, or earlier uploads).
      slot.staging_buffer = 1 - slot.staging_buffer;
      slot.staging_offset = 0;
      HIVE_CUDA_CHECK(cudaEventSynchronize(slot.staging_done[slot.staging_buffer]));
    }
    std::byte* staged = slot.staging[slot.staging_buffer] + slot.staging_offset;
    const size_t length = std::min(kStagingChunkBytes - slot.staging_offset, bytes - offset);
    std::memcpy(staged, host + offset, length);
    HIVE_CUDA_CHECK(cudaMemcpyAsync(device_memory + offset, staged, length,
                                    cudaMemcpyHostToDevice, slot.stream));
    HIVE_CUDA_CHECK(cudaEventRecord(slot.staging_done[slot.staging_buffer], slot.stream));
    slot.staging_offset += length;
    offset += length;
  }
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
