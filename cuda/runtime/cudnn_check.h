// Return-code check for cuDNN, like check.h for the CUDA runtime and cuBLAS: a failed call
// throws hive::Error naming the call, the status, cuDNN's own last error message (which says
// which attribute or operation it rejected) and where the call was made. Built only with cuDNN.
#pragma once

#include <cudnn.h>

namespace hive::cuda {

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line);

}  // namespace hive::cuda

#define HIVE_CUDNN_CHECK(call) ::hive::cuda::check_cudnn((call), #call, __FILE__, __LINE__)
