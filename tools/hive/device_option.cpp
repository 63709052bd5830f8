#include "tools/hive/device_option.h"

#include <mutex>

#include "engine/core/backend.h"
#include "engine/core/error.h"
#if HIVE_WITH_CUDA
#include "cuda/cuda.h"
#endif

namespace hive::tools {

Result<Device> parse_compute_device(const std::string& text) {
  try {
    const Device device = Device::parse(text);
#if HIVE_WITH_CUDA
    if (device.type == DeviceType::kCuda) {
      // A failed registration (no usable device) throws and leaves the flag unset: its error is
      // the one reported, and a later call tries again.
      static std::once_flag registered;
      std::call_once(registered, [] { cuda::register_backend(); });
    }
#endif
    backend_for(device);
    return device;
  } catch (const Error& error) {
    return Status::error("--device '" + text + "': " + error.what());
  }
}

Result<DType> parse_compute_precision(const std::string& text) {
  const std::optional<DType> dtype = parse_dtype(text);
  if (dtype != DType::kF32 && dtype != DType::kBF16) {
    return Status::error("--precision '" + text + "': expected f32 or bf16");
  }
  return *dtype;
}

}  // namespace hive::tools
