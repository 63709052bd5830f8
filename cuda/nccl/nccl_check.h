// Return-code check for NCCL, like runtime/check.h for CUDA and cuBLAS: a failed call throws
// hive::Error naming the call, NCCL's error and where it was made. Kept out of runtime/check.h
// because NCCL is optional and that header is included by all of hive_cuda.
#pragma once

#include <nccl.h>

namespace hive::cuda {

void check_nccl(ncclResult_t status, const char* call, const char* file, int line);

}  // namespace hive::cuda

#define HIVE_NCCL_CHECK(call) ::hive::cuda::check_nccl((call), #call, __FILE__, __LINE__)
