// Return-code checks for the CUDA runtime, cuBLAS and cuBLASLt (the two libraries share one
// status type, cublasStatus_t). A failed call throws hive::Error naming
// the call, the error and where it was made; callers that can recover (out of memory, a missing
// device) catch it like any other engine error.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

namespace hive::cuda {

void check_cuda(cudaError_t status, const char* call, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace hive::cuda

#define HIVE_CUDA_CHECK(call) ::hive::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define HIVE_CUBLAS_CHECK(call) ::hive::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch errors (bad configuration, no kernel image for this device).
#define HIVE_CUDA_CHECK_LAUNCH() HIVE_CUDA_CHECK(cudaGetLastError())
