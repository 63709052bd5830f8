#include "engine/cpu/cpu_threads.h"

#include <cblas.h>
#include <omp.h>

#include "engine/core/error.h"

namespace hive {

void set_cpu_threads(int threads) {
  HIVE_REQUIRE(threads >= 1, "set_cpu_threads: thread count ", threads, " must be at least 1");
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace hive
