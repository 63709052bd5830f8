#include <array>

#include "engine/core/backend.h"
#include "engine/cpu/cpu_backend.h"

namespace hive {
namespace {

std::array<Backend*, 2>& registry() {
  static std::array<Backend*, 2> backends{&cpu_backend(), nullptr};
  return backends;
}

}  // namespace

Backend& backend_for(Device device) {
  Backend* backend = registry()[static_cast<size_t>(device.type)];
  HIVE_REQUIRE(backend != nullptr, "no backend for device ", device,
               ": this machine has no CUDA device, hive was built without CUDA, or the program did not "
               "register the CUDA backend at start-up (hive::cuda::register_backend)");
  return *backend;
}

void synchronize(Device device) { backend_for(device).synchronize(device); }

void register_backend(DeviceType type, Backend* backend) {
  registry()[static_cast<size_t>(type)] = backend;
}

}  // namespace hive
