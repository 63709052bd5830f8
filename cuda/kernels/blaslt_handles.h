// Owning wrappers for the cuBLASLt descriptors a matrix product needs. They are host objects
// (creating one allocates host memory only); each wrapper creates its descriptor in the
// constructor, destroys it in the destructor, and checks every attribute it sets.
#pragma once

#include <cublasLt.h>

#include <cstdint>

#include "cuda/runtime/check.h"

namespace hive::cuda {

// The operation: compute and scale types, transposes, epilogue.
class MatmulDesc {
 public:
  MatmulDesc(cublasComputeType_t compute_type, cudaDataType_t scale_type) {
    HIVE_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc_, compute_type, scale_type));
  }
  ~MatmulDesc() { static_cast<void>(cublasLtMatmulDescDestroy(desc_)); }
  MatmulDesc(const MatmulDesc&) = delete;
  MatmulDesc& operator=(const MatmulDesc&) = delete;

  // `value` must have the exact type the attribute is documented with in cublasLt.h.
  template <typename Value>
  void set(cublasLtMatmulDescAttributes_t attribute, const Value& value) {
    HIVE_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_, attribute, &value, sizeof(value)));
  }
  cublasLtMatmulDesc_t get() const { return desc_; }

 private:
  cublasLtMatmulDesc_t desc_ = nullptr;
};

// One operand's memory layout (column-major): rows, columns, leading dimension, batching.
class MatrixLayout {
 public:
  MatrixLayout(cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t leading_dimension) {
    HIVE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout_, type, rows, cols, leading_dimension));
  }
  ~MatrixLayout() { static_cast<void>(cublasLtMatrixLayoutDestroy(layout_)); }
  MatrixLayout(const MatrixLayout&) = delete;
  MatrixLayout& operator=(const MatrixLayout&) = delete;

  template <typename Value>
  void set(cublasLtMatrixLayoutAttribute_t attribute, const Value& value) {
    HIVE_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout_, attribute, &value, sizeof(value)));
  }
  cublasLtMatrixLayout_t get() const { return layout_; }

 private:
  cublasLtMatrixLayout_t layout_ = nullptr;
};

// What the algorithm heuristic may choose from: workspace size, operand alignments.
class MatmulPreference {
 public:
  MatmulPreference() { HIVE_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference_)); }
  ~MatmulPreference() { static_cast<void>(cublasLtMatmulPreferenceDestroy(preference_)); }
  MatmulPreference(const MatmulPreference&) = delete;
  MatmulPreference& operator=(const MatmulPreference&) = delete;

  template <typename Value>
  void set(cublasLtMatmulPreferenceAttributes_t attribute, const Value& value) {
    HIVE_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(preference_, attribute, &value, sizeof(value)));
  }
  cublasLtMatmulPreference_t get() const { return preference_; }

 private:
  cublasLtMatmulPreference_t preference_ = nullptr;
};

}  // namespace hive::cuda
