// Grouped matrix products through cuBLAS's cublasGemmGroupedBatchedEx (cuBLAS 12.5 and later):
// all the problems of a call in one launch, each problem a group of its own, accumulated in f32
// (CUBLAS_COMPUTE_32F, never TF32) as gemm.cpp's products are. The _64 entry point takes hive's
// int64 shapes as they are.
//
// Row-major to column-major as in gemm.cpp: out^T = op(b)^T op(a)^T, so cuBLAS's A is our b, its
// B is our a, and m and n swap.
//
// cuBLAS reads the shapes, transposes, alpha and beta from host arrays during the call, but the
// matrix pointers from arrays in device memory. Those arrays and the table of outputs to prepare
// (prepare_outputs.h: the bias, which the grouped API cannot add, and problems with k == 0) are
// packed into one host buffer and uploaded through the stream slot's pinned staging buffers into
// pool memory, which is released in stream order once the launch has read it.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/blas_types.h"
#include "cuda/kernels/prepare_outputs.h"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "cuda/runtime/staged_copy.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// The alignment cuBLAS documents for f16 and bf16 matrices of the grouped API: 16 bytes when
// k times the element size is a multiple of 16, 4 bytes when it is a multiple of 4. The text
// states the rule for k; it is applied to each matrix's leading dimension as well, since which
// dimension a kernel loads in vectors is not documented.
size_t required_alignment(int64_t elements, size_t element_bytes) {
  const size_t bytes = static_cast<size_t>(elements) * element_bytes;
  if (bytes % 16 == 0) return 16;
  if (bytes % 4 == 0) return 4;
  return element_bytes;
}

// Whether the grouped launch may take the problem; the others (say a view that starts at an odd
// row of a matrix with an odd number of bf16 columns) go through gemm() one by one.
bool meets_grouped_alignment(const GemmArgs& problem) {
  const DType dtype = problem.out.dtype();
  if (dtype == DType::kF32) return true;
  const size_t element_bytes = dtype_size(dtype);
  const size_t for_k = required_alignment(problem.k, element_bytes);
  const auto fits = [&](const void* data, int64_t leading_dimension) {
    const size_t alignment = std::max(for_k, required_alignment(leading_dimension, element_bytes));
    return reinterpret_cast<uintptr_t>(data) % alignment == 0;
  };
  const int64_t lda = problem.transpose_a == Transpose::kYes ? problem.m : problem.k;
  const int64_t ldb = problem.transpose_b == Transpose::kYes ? problem.k : problem.n;
  return fits(problem.a.raw_data(), lda) && fits(problem.b.raw_data(), ldb) &&
         fits(problem.out.raw_data(), problem.n);
}

// cublasGemmGroupedBatchedEx_64's arguments in its column-major view, one group per problem.
struct GroupedLaunch {
  std::vector<cublasOperation_t> transa;
  std::vector<cublasOperation_t> transb;
  std::vector<int64_t> m;
  std::vector<int64_t> n;
  std::vector<int64_t> k;
  std::vector<int64_t> lda;
  std::vector<int64_t> ldb;
  std::vector<int64_t> ldc;
  std::vector<float> alpha;
  std::vector<float> beta;
  std::vector<const void*> a;
  std::vector<const void*> b;
  std::vector<void*> c;

  size_t groups() const { return m.size(); }

  // `beta` rather than the problem's: 1 when the output was prepared.
  void add(const GemmArgs& problem, float beta_to_use) {
    transa.push_back(to_operation(problem.transpose_b));
    transb.push_back(to_operation(problem.transpose_a));
    m.push_back(problem.n);
    n.push_back(problem.m);
    k.push_back(problem.k);
    lda.push_back(problem.transpose_b == Transpose::kYes ? problem.k : problem.n);
    ldb.push_back(problem.transpose_a == Transpose::kYes ? problem.m : problem.k);
    ldc.push_back(problem.n);
    alpha.push_back(problem.alpha);
    beta.push_back(beta_to_use);
    a.push_back(problem.b.raw_data());
    b.push_back(problem.a.raw_data());
    c.push_back(problem.out.raw_data());
  }
};

// The pointer arrays and the preparation table, as one block of device memory.
struct DeviceTables {
  std::shared_ptr<std::byte> memory;  // released on the stream, after the launches that read it
  const void* const* a = nullptr;
  const void* const* b = nullptr;
  void* const* c = nullptr;
  const OutputPreparation* preparations = nullptr;
};

DeviceTables upload_tables(const GroupedLaunch& launch,
                           const std::vector<OutputPreparation>& preparations, int device) {
  const size_t pointer_bytes = launch.groups() * sizeof(void*);
  static_assert(alignof(OutputPreparation) <= alignof(void*));
  std::vector<std::byte> host;
  const auto append = [&](const void* data, size_t bytes) {
    if (bytes == 0) return;  // data may be null then, which memcpy does not allow
    host.resize(host.size() + bytes);
    std::memcpy(host.data() + host.size() - bytes, data, bytes);
  };
  append(launch.a.data(), pointer_bytes);
  append(launch.b.data(), pointer_bytes);
  append(launch.c.data(), pointer_bytes);
  append(preparations.data(), preparations.size() * sizeof(OutputPreparation));

  DeviceTables tables;
  tables.memory = allocate_device_memory(host.size(), device);
  copy_host_to_device_async(host.data(), tables.memory.get(), host.size(), device);
  std::byte* base = tables.memory.get();
  tables.a = reinterpret_cast<const void* const*>(base);
  tables.b = reinterpret_cast<const void* const*>(base + pointer_bytes);
  tables.c = reinterpret_cast<void* const*>(base + 2 * pointer_bytes);
  tables.preparations = reinterpret_cast<const OutputPreparation*>(base + 3 * pointer_bytes);
  return tables;
}

void run_grouped(const GroupedLaunch& launch, const DeviceTables& tables, DType dtype,
                 StreamSlot& slot) {
  const cudaDataType_t type = cuda_type_of(dtype);
  const std::vector<int64_t> group_size(launch.groups(), 1);
  HIVE_CUBLAS_CHECK(cublasGemmGroupedBatchedEx_64(
      cublas_handle(slot), launch.transa.data(), launch.transb.data(), launch.m.data(),
      launch.n.data(), launch.k.data(), launch.alpha.data(), tables.a, type, launch.lda.data(),
      tables.b, type, launch.ldb.data(), launch.beta.data(), tables.c, type, launch.ldc.data(),
      static_cast<int64_t>(launch.groups()), group_size.data(), CUBLAS_COMPUTE_32F));
}

}  // namespace

void CudaBackend::grouped_gemm(std::span<const GemmArgs> problems) {
  if (problems.empty()) return;
  const Device device = problems[0].out.device();
  const DType dtype = problems[0].out.dtype();
  DeviceGuard guard(device.index);

  GroupedLaunch launch;
  std::vector<OutputPreparation> preparations;
  int64_t largest_preparation = 0;
  std::vector<const GemmArgs*> alone;
  for (const GemmArgs& problem : problems) {
    HIVE_CHECK(problem.batch == 1 && problem.out.device() == device &&
                   problem.a.dtype() == dtype && problem.b.dtype() == dtype &&
                   problem.out.dtype() == dtype &&
                   (!problem.bias.defined() || problem.bias.dtype() == dtype),
               "grouped_gemm: every problem must be a single product of ", dtype, " on ", device,
               "; got batch ", problem.batch, ", ", problem.out.dtype(), " on ",
               problem.out.device());
    if (problem.m == 0 || problem.n == 0) continue;
    if (problem.k > 0 && !meets_grouped_alignment(problem)) {
      alone.push_back(&problem);
      continue;
    }
    const bool prepare = problem.bias.defined() || problem.k == 0;
    if (prepare) {
      preparations.push_back({problem.out.raw_data(),
                              problem.bias.defined() ? problem.bias.raw_data() : nullptr,
                              problem.m, problem.n, problem.beta});
      largest_preparation = std::max(largest_preparation, problem.m * problem.n);
    }
    if (problem.k > 0) launch.add(problem, prepare ? 1.0f : problem.beta);
  }

  if (launch.groups() > 0 || !preparations.empty()) {
    StreamSlot& slot = current_slot(device.index);
    const DeviceTables tables = upload_tables(launch, preparations, device.index);
    prepare_outputs(dtype, tables.preparations, static_cast<int64_t>(preparations.size()),
                    largest_preparation, slot.stream);
    if (launch.groups() > 0) run_grouped(launch, tables, dtype, slot);
  }
  for (const GemmArgs* problem : alone) gemm(*problem);
}

}  // namespace hive::cuda
