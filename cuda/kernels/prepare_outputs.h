// The part of a product that cuBLAS's grouped GEMM cannot do: it has no bias epilogue, and a
// problem with k == 0 has nothing to multiply. Before the grouped launch, one kernel sets
// out = beta * out + bias (the bias broadcast over the rows) for every such output; the product
// then adds into them with beta = 1.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/dtype.h"

namespace hive::cuda {

// One output matrix to prepare. Lives in device memory: the kernel reads the table.
struct OutputPreparation {
  void* out = nullptr;         // [rows, cols], row-major, of the call's dtype
  const void* bias = nullptr;  // [cols], or null: no bias
  int64_t rows = 0;
  int64_t cols = 0;
  float beta = 0.0f;  // 0: out is not read (it may hold garbage, as BLAS allows)
};

// Prepares the `count` outputs of `table` (device memory) in one launch on `stream`; `largest`
// is the most elements of any one of them.
void prepare_outputs(DType dtype, const OutputPreparation* table, int64_t count, int64_t largest,
                     cudaStream_t stream);

}  // namespace hive::cuda
