#include "bench/throughput/gemm_peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/core/random.h"
#include "engine/ops/matmul.h"

namespace hive::throughput {

GemmPeak measure_gemm_peak(int64_t m, int64_t k, int repeats) {
  GemmPeak peak{.m = m, .k = k, .n = 4 * k, .repeats = repeats};
  Generator generator(2020);
  const Tensor x = Tensor::randn(Shape{m, k}, generator);
  const Tensor weight = Tensor::randn(Shape{peak.n, k}, generator);
  const NoGradGuard no_grad;
  (void)linear(x, weight, Tensor());  // warm-up: page faults, OpenBLAS's buffers and threads

  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(peak.n);
  std::vector<double> gflops;
  for (int i = 0; i < repeats; ++i) {
    const auto began = std::chrono::steady_clock::now();
    (void)linear(x, weight, Tensor());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    gflops.push_back(flops / seconds / 1e9);
  }
  std::sort(gflops.begin(), gflops.end());
  peak.best_gflops = gflops.back();
  peak.median_gflops = gflops[gflops.size() / 2];
  return peak;
}

}  // namespace hive::throughput
