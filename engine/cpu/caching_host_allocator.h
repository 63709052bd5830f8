// CachingHostAllocator: CPU memory for tensors, with freed blocks kept for reuse.
//
// Training allocates the same large activation and gradient buffers every step. Returned to
// glibc, blocks above its mmap threshold go back to the kernel and come back as fresh pages that
// fault and get zeroed on first touch (17% of a training step in profiles). Here blocks of 64 KiB
// and more are rounded to size classes (at most 12.5% slack) and kept in per-class free lists up
// to a byte limit; blocks of 16 MiB and more are also 2 MiB-aligned and advised as transparent
// huge pages. Small blocks go straight to malloc. Thread-safe. Under AddressSanitizer nothing is
// cached, so use-after-free stays detectable.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace hive {

class CachingHostAllocator {
 public:
  // The process-wide instance. Never destroyed: tensors may outlive static destructors.
  static CachingHostAllocator& instance();

  explicit CachingHostAllocator(size_t cache_limit_bytes);
  CachingHostAllocator(const CachingHostAllocator&) = delete;
  CachingHostAllocator& operator=(const CachingHostAllocator&) = delete;
  ~CachingHostAllocator();

  // At least `bytes` bytes, 64-byte aligned; throws hive::Error when memory is exhausted.
  std::shared_ptr<std::byte> allocate(size_t bytes);
  size_t cached_bytes() const;
  // Frees every cached block (for memory pressure, and tests).
  void release_cached();

 private:
  void recycle(std::byte* block, size_t size_class);

  size_t cache_limit_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<std::byte*>> free_blocks_;  // guarded by mutex_
  size_t cached_bytes_ = 0;                                          // guarded by mutex_
};

}  // namespace hive
