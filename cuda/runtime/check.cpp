#include "cuda/runtime/check.h"

#include "engine/core/error.h"

namespace hive::cuda {

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) [[likely]] return;
  throw Error(str_cat("CUDA error ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
                      ") in ", call, " at ", file, ":", line));
}

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) [[likely]] return;
  throw Error(str_cat("cuBLAS error ", cublasLtGetStatusName(status), " (",
                      cublasLtGetStatusString(status), ") in ", call, " at ", file, ":", line));
}

}  // namespace hive::cuda
