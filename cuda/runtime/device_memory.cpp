#include "cuda/runtime/device_memory.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

std::atomic<bool> poison_new_allocations{false};

std::string gibibytes(size_t bytes) {
  return str_cat(static_cast<double>(bytes) / static_cast<double>(size_t{1} << 30), " GiB");
}

// Freed blocks stay in the pool (release threshold = unlimited); by default the pool would hand
// memory back to the driver at every synchronization and allocate it again afterwards.
void keep_freed_memory_in_pool(int device) {
  static std::mutex mutex;
  static std::vector<bool> configured;
  std::lock_guard lock(mutex);
  if (static_cast<size_t>(device) >= configured.size()) configured.resize(static_cast<size_t>(device) + 1);
  if (configured[static_cast<size_t>(device)]) return;
  cudaMemPool_t pool = nullptr;
  HIVE_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t threshold = UINT64_MAX;
  HIVE_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  configured[static_cast<size_t>(device)] = true;
}

// Frees in the order of the allocating stream, which covers the work of the thread that made
// the block. Another thread (a server's runtime thread using parameters made at start-up) may
// have used it on its own stream, unknown here: when a different thread frees the block, the
// whole device is drained first. That happens rarely (parameters at shutdown, replicas).
void release_device_memory(std::byte* block, cudaStream_t allocating_stream, int device) {
  // At process exit the runtime may be gone before the last tensors; nothing to free then.
  const auto ok = [](cudaError_t status) {
    return status == cudaSuccess || status == cudaErrorCudartUnloading;
  };
  if (current_stream(device) != allocating_stream) {
    const cudaError_t drained = cudaDeviceSynchronize();
    HIVE_CHECK(ok(drained), "cudaDeviceSynchronize before a free failed: ", cudaGetErrorString(drained));
  }
  const cudaError_t freed = cudaFreeAsync(block, allocating_stream);
  HIVE_CHECK(ok(freed), "cudaFreeAsync failed: ", cudaGetErrorString(freed));
}

}  // namespace

void set_poison_allocations(PoisonAllocations poison) {
  poison_new_allocations = poison == PoisonAllocations::kYes;
}

bool poison_allocations() { return poison_new_allocations; }

std::shared_ptr<std::byte> allocate_device_memory(size_t bytes, int device) {
  const int devices = device_count();
  HIVE_REQUIRE(device >= 0 && device < devices, "cuda:", device, " does not exist: this machine has ",
               devices, " CUDA device(s)");
  if (bytes == 0) return {nullptr, [](std::byte*) {}};
  DeviceGuard guard(device);
  keep_freed_memory_in_pool(device);
  cudaStream_t stream = current_stream(device);
  void* memory = nullptr;
  const cudaError_t status = cudaMallocAsync(&memory, bytes, stream);
  if (status == cudaErrorMemoryAllocation) {
    static_cast<void>(cudaGetLastError());  // not sticky: clear it so later calls succeed
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    HIVE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    throw Error(str_cat("cuda:", device, ": out of memory allocating ", bytes, " bytes (",
                        gibibytes(bytes), "); ", gibibytes(free_bytes), " free of ",
                        gibibytes(total_bytes), " on the device"));
  }
  HIVE_CUDA_CHECK(status);
  if (poison_new_allocations) HIVE_CUDA_CHECK(cudaMemsetAsync(memory, 0xff, bytes, stream));
  return {static_cast<std::byte*>(memory), [stream, device](std::byte* block) {
            release_device_memory(block, stream, device);
          }};
}

}  // namespace hive::cuda
