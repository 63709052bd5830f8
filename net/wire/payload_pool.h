// Receive buffers for message payloads, 64-byte aligned. Large buffers are reused: a fresh 64 MiB
// buffer comes from a new mmap whose every page faults in (and is zeroed) while the socket is
// read into it, which halves the throughput of large calls. Freed buffers go back to a small
// process-wide cache (thread-safe: tensors are released on any thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace hive::net {

inline constexpr uint64_t kPooledPayloadMinimum = 1ull << 20;
inline constexpr uint64_t kPayloadPoolMaxCachedBytes = 512ull << 20;

std::shared_ptr<std::byte[]> allocate_payload(uint64_t bytes);

// Bytes held by the cache now (for tests and stats).
uint64_t payload_pool_cached_bytes();

}  // namespace hive::net
