#include "cuda/nccl/nccl_check.h"

#include "engine/core/error.h"

namespace hive::cuda {

void check_nccl(ncclResult_t status, const char* call, const char* file, int line) {
  if (status == ncclSuccess) [[likely]] return;
  throw Error(str_cat("NCCL error ", static_cast<int>(status), " (", ncclGetErrorString(status),
                      ") in ", call, " at ", file, ":", line));
}

}  // namespace hive::cuda
