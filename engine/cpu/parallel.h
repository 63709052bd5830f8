// parallel_for: splits [0, count) into one contiguous chunk per OpenMP thread when there is
// enough work (count > grain), else runs inline. Bodies must not throw: kernels run only after
// the ops have validated their arguments.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "engine/cpu/cpu_threads.h"

namespace hive::cpu {

template <typename Body>
void parallel_for(int64_t count, int64_t grain, const Body& body) {
  if (count <= 0) return;
  const int64_t max_threads = omp_in_parallel() ? 1 : hive::cpu_threads();
  const int64_t threads = std::min(max_threads, (count + grain - 1) / std::max<int64_t>(grain, 1));
  if (threads <= 1) {
    body(int64_t{0}, count);
    return;
  }
  const int64_t chunk = (count + threads - 1) / threads;
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t begin = omp_get_thread_num() * chunk;
    const int64_t end = std::min(count, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

// How many chunks parallel_for would use for `count` items; kernels that keep per-thread partial
// results size their scratch with it.
inline int64_t parallel_chunks(int64_t count, int64_t grain) {
  const int64_t max_threads = omp_in_parallel() ? 1 : hive::cpu_threads();
  return std::max<int64_t>(1, std::min(max_threads, (count + grain - 1) / std::max<int64_t>(grain, 1)));
}

// Elementwise work below this many elements runs on one thread: waking threads costs more.
inline constexpr int64_t kElementwiseGrain = 32768;

}  // namespace hive::cpu
