// Marks small inline functions that CUDA kernels share with the CPU code, so both compute the
// same values (random streams, GELU, ...). Plain inline functions when compiled by a C++ compiler.
#pragma once

#if defined(__CUDACC__)
#define HIVE_HOST_DEVICE __host__ __device__
#else
#define HIVE_HOST_DEVICE
#endif
