// `--device` of the commands that compute (serve, train, train-local): cpu, cuda or cuda:N.
#pragma once

#include <string>

#include "engine/core/device.h"
#include "engine/core/status.h"

namespace hive::tools {

// The device, once this build and machine can compute on it. The CUDA backend is registered the
// first time a CUDA device is asked for, so commands and runs that never use a GPU never start
// the CUDA runtime. Errors name the flag's value and why (no such device, a build without CUDA).
Result<Device> parse_compute_device(const std::string& text);

}  // namespace hive::tools
