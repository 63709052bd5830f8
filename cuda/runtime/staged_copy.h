// Copies between host and device memory through the stream slot's pinned staging buffers, in
// chunks that alternate between the two buffers so the memcpy of one chunk overlaps the DMA of
// the next. Pageable host memory is never handed to the DMA engine directly (that would make
// the driver stage it through its own, smaller buffers, synchronously).
#pragma once

#include <cstddef>

namespace hive::cuda {

// Returns once the bytes are on the device (and all earlier work of this thread's stream is
// done), so the tensor may be handed to another thread, whose stream knows nothing of this one.
void copy_host_to_device(const std::byte* host, std::byte* device_memory, size_t bytes, int device);
// Queues the copy on this thread's stream and returns as soon as `host` may be reused (its bytes
// are staged), without waiting for the device: for small tables (argument arrays) read by work
// queued next on the same stream, which the stream's order lets see them.
void copy_host_to_device_async(const std::byte* host, std::byte* device_memory, size_t bytes,
                               int device);
// Returns once the bytes are in `host`.
void copy_device_to_host(const std::byte* device_memory, std::byte* host, size_t bytes, int device);

}  // namespace hive::cuda
