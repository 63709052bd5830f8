#include "net/wire/payload_pool.h"

#include <bit>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "net/wire/frame.h"

namespace hive::net {
namespace {

constexpr std::align_val_t kAlignment{kSegmentAlignment};

class PayloadPool {
 public:
  // Capacities are powers of two, so a buffer serves any message up to its size.
  std::byte* take(uint64_t capacity) {
    std::lock_guard lock(mutex_);
    auto bucket = free_.find(capacity);
    if (bucket == free_.end() || bucket->second.empty()) return nullptr;
    std::byte* buffer = bucket->second.back();
    bucket->second.pop_back();
    cached_bytes_ -= capacity;
    return buffer;
  }

  void give_back(std::byte* buffer, uint64_t capacity) {
    {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + capacity <= kPayloadPoolMaxCachedBytes) {
        free_[capacity].push_back(buffer);
        cached_bytes_ += capacity;
        return;
      }
    }
    ::operator delete[](buffer, kAlignment);
  }

  uint64_t cached_bytes() {
    std::lock_guard lock(mutex_);
    return cached_bytes_;
  }

 private:
  std::mutex mutex_;
  std::map<uint64_t, std::vector<std::byte*>> free_;
  uint64_t cached_bytes_ = 0;
};

// Never destroyed: buffers may be released by threads that outlive static destruction.
PayloadPool& pool() {
  static auto* instance = new PayloadPool;
  return *instance;
}

}  // namespace

std::shared_ptr<std::byte[]> allocate_payload(uint64_t bytes) {
  if (bytes < kPooledPayloadMinimum) {
    auto* memory = static_cast<std::byte*>(::operator new[](bytes, kAlignment));
    return std::shared_ptr<std::byte[]>(memory, [](std::byte* pointer) { ::operator delete[](pointer, kAlignment); });
  }
  const uint64_t capacity = std::bit_ceil(bytes);
  std::byte* memory = pool().take(capacity);
  if (memory == nullptr) memory = static_cast<std::byte*>(::operator new[](capacity, kAlignment));
  return std::shared_ptr<std::byte[]>(memory, [capacity](std::byte* pointer) { pool().give_back(pointer, capacity); });
}

uint64_t payload_pool_cached_bytes() { return pool().cached_bytes(); }

}  // namespace hive::net
