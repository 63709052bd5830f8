#include "cuda/nccl/communicator.h"

#include <nccl.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>

#include "cuda/cuda.h"
#include "cuda/nccl/nccl_check.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

std::vector<int> every_visible_device() {
  const int count = device_count();
  HIVE_REQUIRE(count > 0, "GpuGroup: no CUDA device is visible");
  std::vector<int> devices(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) devices[static_cast<size_t>(i)] = i;
  return devices;
}

std::optional<ncclDataType_t> nccl_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return ncclFloat32;
    case DType::kF16: return ncclFloat16;
    case DType::kBF16: return ncclBfloat16;
    default: return std::nullopt;
  }
}

// Every tensor against its counterpart on the group's first device: NCCL itself cannot tell
// when ranks pass different counts or types, it reads past the smaller buffer or hangs.
void check_inputs(const std::vector<int>& devices, std::span<const std::vector<Tensor>> per_device) {
  HIVE_REQUIRE(per_device.size() == devices.size(), "GpuGroup::all_reduce: got tensor lists for ",
               per_device.size(), " devices, the group has ", devices.size());
  const Device first_device = Device::cuda(devices[0]);
  const std::vector<Tensor>& first = per_device[0];
  for (size_t d = 0; d < devices.size(); ++d) {
    const Device device = Device::cuda(devices[d]);
    const std::vector<Tensor>& tensors = per_device[d];
    HIVE_REQUIRE(tensors.size() == first.size(), "GpuGroup::all_reduce: ", device, " has ",
                 tensors.size(), " tensors, ", first_device, " has ", first.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& tensor = tensors[i];
      HIVE_REQUIRE(tensor.defined(), "GpuGroup::all_reduce: tensor ", i, " of ", device,
                   " is undefined");
      HIVE_REQUIRE(tensor.device() == device, "GpuGroup::all_reduce: tensor ", i, " of ", device,
                   " is on ", tensor.device());
      HIVE_REQUIRE(nccl_type(tensor.dtype()).has_value(), "GpuGroup::all_reduce: tensor ", i,
                   " of ", device, " has dtype ", tensor.dtype(), "; expected f32, f16 or bf16");
      HIVE_REQUIRE(tensor.shape() == first[i].shape() && tensor.dtype() == first[i].dtype(),
                   "GpuGroup::all_reduce: tensor ", i, " is ", tensor.dtype(), " ",
                   tensor.shape(), " on ", device, " but ", first[i].dtype(), " ",
                   first[i].shape(), " on ", first_device);
    }
  }
}

}  // namespace

GpuGroup::GpuGroup() : GpuGroup(every_visible_device()) {}

GpuGroup::GpuGroup(std::vector<int> devices) : devices_(std::move(devices)) {
  HIVE_REQUIRE(!devices_.empty(), "GpuGroup: the list of devices is empty");
  const int visible = device_count();
  for (auto it = devices_.begin(); it != devices_.end(); ++it) {
    HIVE_REQUIRE(*it >= 0 && *it < visible, "GpuGroup: cuda:", *it,
                 " does not exist: this machine has ", visible, " CUDA device(s)");
    // NCCL does not support two ranks on one device: it may hang.
    HIVE_REQUIRE(std::find(devices_.begin(), it, *it) == it, "GpuGroup: cuda:", *it,
                 " is listed twice");
  }
  communicators_.assign(devices_.size(), nullptr);
  HIVE_NCCL_CHECK(ncclCommInitAll(communicators_.data(), static_cast<int>(devices_.size()),
                                  devices_.data()));
}

// ncclCommDestroy waits for the communicator's queued operations and finalizes it itself.
// ncclCommFinalize first would have to be grouped across the ranks that this one thread drives.
GpuGroup::~GpuGroup() {
  for (ncclComm* communicator : communicators_) static_cast<void>(ncclCommDestroy(communicator));
}

void GpuGroup::all_reduce(std::span<const std::vector<Tensor>> per_device, Reduction reduction) {
  check_inputs(devices_, per_device);
  // Made before the group opens, so that a failure (a stream slot's first use allocates) cannot
  // leave a group half queued.
  std::vector<cudaStream_t> streams;
  for (const int device : devices_) streams.push_back(current_stream(device));
  const ncclRedOp_t op = reduction == Reduction::kSum ? ncclSum : ncclAvg;

  const std::lock_guard lock(queue_mutex_);
  // One thread driving several devices must queue all their calls in one group: each rank's
  // kernel waits for the others, which a blocking call per device would never get to queue.
  HIVE_NCCL_CHECK(ncclGroupStart());
  try {
    for (size_t d = 0; d < devices_.size(); ++d) {
      for (const Tensor& tensor : per_device[d]) {
        // Skipped on every device alike: shapes match across devices.
        if (tensor.numel() == 0) continue;
        void* data = tensor.raw_data();
        HIVE_NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(tensor.numel()),
                                      *nccl_type(tensor.dtype()), op, communicators_[d],
                                      streams[d]));
      }
    }
  } catch (...) {
    static_cast<void>(ncclGroupEnd());  // closes the group; the first error is the one to report
    throw;
  }
  HIVE_NCCL_CHECK(ncclGroupEnd());
}

}  // namespace hive::cuda
