// The CUDA backend's entry points for programs and tests. Everything else in cuda/ is reached
// through engine tensors on Device::cuda(n), once register_backend() has run, except the
// all-reduce across this host's GPUs: GpuGroup in nccl/communicator.h (library hive_nccl, built
// where NCCL is found).
#pragma once

#include <cstddef>
#include <string>

#include "engine/core/device.h"

namespace hive::cuda {

// CUDA devices this process can use; 0 when there is no driver or no device. Never throws.
int device_count() noexcept;

// Installs the CUDA backend for tensors on Device::cuda(n). Call once at start-up, before any
// CUDA tensor exists (engine has no static initializers, see DESIGN.md). Throws hive::Error
// saying why when no device is usable.
void register_backend();

// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.6 GiB)": for logs and benchmark reports.
std::string describe_device(int index);

// Waits until all work queued by this thread on `device` has finished.
//
// Each thread queues its work on its own stream. Tensors may cross threads when they are
// complete: a copy from the host is complete when it returns; a thread that hands results of its
// own kernels to another thread calls synchronize() first.
void synchronize(Device device);

// Tests: every new device allocation is filled with 0xFF bytes (NaN for floats, -1 for signed
// integers), so a kernel that leaves part of its output unwritten fails its comparison.
enum class PoisonAllocations : bool { kNo, kYes };
void set_poison_allocations(PoisonAllocations poison);

}  // namespace hive::cuda
