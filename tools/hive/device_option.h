// `--device` of the commands that compute (serve, train, train-local): cpu, cuda or cuda:N;
// `--precision` of train-local: the dtype its layers compute in.
#pragma once

#include <string>

#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/status.h"

namespace hive::tools {

// The device, once this build and machine can compute on it. The CUDA backend is registered the
// first time a CUDA device is asked for, so commands and runs that never use a GPU never start
// the CUDA runtime. Errors name the flag's value and why (no such device, a build without CUDA).
Result<Device> parse_compute_device(const std::string& text);

// f32, or bf16: bf16 compute with f32 master parameters and optimizer state (layers cast their
// parameters to the input's dtype, nn::in_compute_dtype). f16 is refused: without loss scaling
// its gradients underflow.
Result<DType> parse_compute_precision(const std::string& text);

}  // namespace hive::tools
