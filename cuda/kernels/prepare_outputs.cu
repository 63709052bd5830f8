// out = beta * out + bias for a table of output matrices (see prepare_outputs.h). Outputs go along
// the grid's y axis and each output's elements along x in a grid-stride loop, so one launch
// covers outputs of any sizes; blocks past the end of a small output finish at once.
#include "cuda/kernels/prepare_outputs.h"

#include <algorithm>

#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.h"
#include "engine/core/dtype_dispatch.h"

namespace hive::cuda {
namespace {

constexpr int64_t kMaxGridY = 65535;

template <typename T>
__global__ void prepare_outputs_kernel(const OutputPreparation* table, int64_t count) {
  for (int64_t index = blockIdx.y; index < count; index += gridDim.y) {
    const OutputPreparation entry = table[index];
    T* out = static_cast<T*>(entry.out);
    const T* bias = static_cast<const T*>(entry.bias);
    const int64_t total = entry.rows * entry.cols;
    for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
      float value = entry.beta == 0.0f ? 0.0f : entry.beta * load(out[e]);
      if (bias != nullptr) value += load(bias[e % entry.cols]);
      out[e] = store<T>(value);
    }
  }
}

}  // namespace

void prepare_outputs(DType dtype, const OutputPreparation* table, int64_t count, int64_t largest,
                     cudaStream_t stream) {
  if (count == 0 || largest == 0) return;
  const int64_t outputs_in_grid = std::min(count, kMaxGridY);
  // About as many blocks in all as an elementwise kernel uses, shared among the outputs.
  const int64_t blocks_per_output = std::clamp<int64_t>(
      (largest + kThreadsPerBlock - 1) / kThreadsPerBlock, 1,
      std::max<int64_t>(1, kMaxBlocks / outputs_in_grid));
  const dim3 grid(static_cast<unsigned int>(blocks_per_output),
                  static_cast<unsigned int>(outputs_in_grid));
  dispatch_floating(dtype, [&]<typename T>() {
    prepare_outputs_kernel<T><<<grid, kThreadsPerBlock, 0, stream>>>(table, count);
    HIVE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace hive::cuda
