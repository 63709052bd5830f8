#include "cuda/runtime/cudnn_check.h"

#include <array>

#include "engine/core/error.h"

namespace hive::cuda {

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) [[likely]] return;
  // The last error message is per thread and says more than the status (which attribute, which
  // operation); empty when cuDNN kept none.
  std::array<char, 1024> detail{};
  cudnnGetLastErrorString(detail.data(), detail.size());
  throw Error(str_cat("cuDNN error ", cudnnGetErrorString(status), " (", static_cast<int>(status),
                      ") in ", call, " at ", file, ":", line,
                      detail[0] == '\0' ? "" : ": ", detail.data()));
}

}  // namespace hive::cuda
