// The CPU allocator behind every tensor: reuse of freed blocks, the cache limit, alignment.
#include "engine/cpu/caching_host_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace hive {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaching = false;
#else
constexpr bool kCaching = true;
#endif

TEST(CachingHostAllocator, FreedBlockIsReusedForTheSameSizeClass) {
  if (!kCaching) GTEST_SKIP() << "nothing is cached under AddressSanitizer";
  CachingHostAllocator allocator(64 * kMiB);
  std::byte* first = allocator.allocate(3 * kMiB).get();  // freed at the end of the statement
  EXPECT_EQ(allocator.cached_bytes(), 3 * kMiB);
  // 3 MiB + 1 byte rounds into the same 3 MiB class (steps of 1/8 of the power of two).
  const auto second = allocator.allocate(3 * kMiB - 4096);
  EXPECT_EQ(second.get(), first);
  EXPECT_EQ(allocator.cached_bytes(), 0u);
}

TEST(CachingHostAllocator, KeepsNoMoreThanItsLimit) {
  if (!kCaching) GTEST_SKIP() << "nothing is cached under AddressSanitizer";
  CachingHostAllocator allocator(5 * kMiB);
  {
    const auto a = allocator.allocate(4 * kMiB);
    const auto b = allocator.allocate(4 * kMiB);
  }
  EXPECT_EQ(allocator.cached_bytes(), 4 * kMiB);  // the second block did not fit
  allocator.release_cached();
  EXPECT_EQ(allocator.cached_bytes(), 0u);
}

TEST(CachingHostAllocator, SmallBlocksAreNotCached) {
  CachingHostAllocator allocator(64 * kMiB);
  { const auto small = allocator.allocate(1000); }
  EXPECT_EQ(allocator.cached_bytes(), 0u);
}

TEST(CachingHostAllocator, BlocksAreAlignedForVectorsAndHugeBlocksForHugePages) {
  CachingHostAllocator allocator(64 * kMiB);
  for (size_t bytes : {size_t{1}, size_t{100}, size_t{70000}, 5 * kMiB, 17 * kMiB}) {
    const auto block = allocator.allocate(bytes);
    const auto address = reinterpret_cast<uintptr_t>(block.get());
    EXPECT_EQ(address % 64, 0u) << bytes << " bytes";
    if (bytes >= 16 * kMiB) {
      EXPECT_EQ(address % (2 * kMiB), 0u) << bytes << " bytes";
    }
  }
}

}  // namespace
}  // namespace hive
