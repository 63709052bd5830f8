#include "engine/cpu/cpu_threads.h"

#include <cblas.h>
#include <omp.h>

#include <atomic>

#include "engine/core/error.h"

namespace hive {
namespace {

// Process-wide, unlike omp_set_num_threads(), which sets only the calling thread's count: a
// server's runtime threads and a trainer's workers must honour the budget too, or each of them
// starts a team of spinning OpenMP threads.
std::atomic<int> configured_threads{0};

}  // namespace

void set_cpu_threads(int threads) {
  HIVE_REQUIRE(threads >= 1, "set_cpu_threads: thread count ", threads, " must be at least 1");
  configured_threads.store(threads, std::memory_order_relaxed);
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

int cpu_threads() {
  const int configured = configured_threads.load(std::memory_order_relaxed);
  return configured > 0 ? configured : omp_get_max_threads();
}

}  // namespace hive
