// This machine's large-GEMM rate through the engine (hive::linear, OpenBLAS on the CPU): the
// ceiling an ffn expert server could reach, measured in the same run as the throughput.
#pragma once

#include <cstdint>

namespace hive::throughput {

struct GemmPeak {
  int64_t m = 0, k = 0, n = 0;  // x [m, k] @ W^T, W [n, k]
  int repeats = 0;
  double best_gflops = 0;    // the fastest repeat: the machine's rate when nothing interferes
  double median_gflops = 0;
};

// The ffn's up projection at its largest batch: x [m, k] @ W [n = 4k, k]^T, once untimed, then
// `repeats` timed runs on the engine's current thread count.
GemmPeak measure_gemm_peak(int64_t m, int64_t k, int repeats);

}  // namespace hive::throughput
