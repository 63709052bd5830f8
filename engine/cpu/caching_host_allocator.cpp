#include "engine/cpu/caching_host_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

#include "engine/core/error.h"

namespace hive {
namespace {

constexpr size_t kAlignment = 64;  // a cache line; also what the wire format aligns tensors to
constexpr size_t kMinCachedBytes = size_t{64} << 10;
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kMinHugeBytes = size_t{16} << 20;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaching = false;
#else
constexpr bool kCaching = true;
#endif

// Rounds up to a multiple of 1/8 of the size's power of two (so at most 12.5% slack), and to
// whole huge pages for huge blocks.
size_t size_class(size_t bytes) {
  if (bytes < kMinCachedBytes) return (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  const size_t step = bytes >= kMinHugeBytes ? kHugePage : std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

std::byte* allocate_block(size_t size_class_bytes) {
  const bool huge = size_class_bytes >= kMinHugeBytes;
  void* memory = std::aligned_alloc(huge ? kHugePage : kAlignment, size_class_bytes);
  if (memory == nullptr) {
    throw Error(str_cat("CPU allocation of ", size_class_bytes, " bytes failed: out of memory"));
  }
  // Advice only: without transparent huge pages the block works the same with small pages.
  if (huge) (void)::madvise(memory, size_class_bytes, MADV_HUGEPAGE);
  return static_cast<std::byte*>(memory);
}

size_t default_cache_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const size_t physical = pages > 0 && page_size > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page_size)
                                                     : size_t{8} << 30;
  return std::min(size_t{2} << 30, physical / 8);
}

}  // namespace

CachingHostAllocator& CachingHostAllocator::instance() {
  static auto* allocator = new CachingHostAllocator(default_cache_limit());
  return *allocator;
}

CachingHostAllocator::CachingHostAllocator(size_t cache_limit_bytes)
    : cache_limit_bytes_(cache_limit_bytes) {}

CachingHostAllocator::~CachingHostAllocator() { release_cached(); }

std::shared_ptr<std::byte> CachingHostAllocator::allocate(size_t bytes) {
  const size_t rounded = size_class(bytes);
  if (!kCaching || rounded < kMinCachedBytes) {
    return {allocate_block(rounded), [](std::byte* block) { std::free(block); }};
  }
  std::byte* block = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto found = free_blocks_.find(rounded);
    if (found != free_blocks_.end() && !found->second.empty()) {
      block = found->second.back();
      found->second.pop_back();
      cached_bytes_ -= rounded;
    }
  }
  if (block == nullptr) block = allocate_block(rounded);
  return {block, [this, rounded](std::byte* freed) { recycle(freed, rounded); }};
}

void CachingHostAllocator::recycle(std::byte* block, size_t size_class_bytes) {
  {
    std::lock_guard lock(mutex_);
    if (cached_bytes_ + size_class_bytes <= cache_limit_bytes_) {
      free_blocks_[size_class_bytes].push_back(block);
      cached_bytes_ += size_class_bytes;
      return;
    }
  }
  std::free(block);
}

size_t CachingHostAllocator::cached_bytes() const {
  std::lock_guard lock(mutex_);
  return cached_bytes_;
}

void CachingHostAllocator::release_cached() {
  std::unordered_map<size_t, std::vector<std::byte*>> released;
  {
    std::lock_guard lock(mutex_);
    released.swap(free_blocks_);
    cached_bytes_ = 0;
  }
  for (auto& [size, blocks] : released) {
    for (std::byte* block : blocks) std::free(block);
  }
}

}  // namespace hive
