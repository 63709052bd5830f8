// hive's dtypes and transposes as cuBLAS and cuBLASLt name them, for the products in gemm.cpp
// and grouped_gemm.cpp.
#pragma once

#include <cublas_api.h>
#include <library_types.h>

#include "engine/core/backend.h"
#include "engine/core/dtype.h"
#include "engine/core/error.h"

namespace hive::cuda {

inline cudaDataType_t cuda_type_of(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    default: break;
  }
  HIVE_CHECK(false, "matrix product: dtype ", dtype, " reached the cuBLAS path");
  return CUDA_R_32F;
}

inline cublasOperation_t to_operation(Transpose transpose) {
  return transpose == Transpose::kYes ? CUBLAS_OP_T : CUBLAS_OP_N;
}

}  // namespace hive::cuda
