// GpuGroup: the GPUs of this host that reduce tensors together (data-parallel gradients), one
// NCCL communicator per GPU, all owned by one process. Built only where CMake finds NCCL
// (HIVE_WITH_NCCL); programs that use it link hive_nccl, so nothing else needs libnccl.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "engine/core/tensor.h"

// nccl.h's ncclComm_t is a pointer to this; declared here so that users need no NCCL headers.
struct ncclComm;

namespace hive::cuda {

enum class Reduction : uint8_t { kSum, kAverage };

class GpuGroup {
 public:
  // Every visible GPU, cuda:0 first. Throws hive::Error when there is none.
  GpuGroup();
  // `devices`: distinct existing CUDA device indices, in rank order. A group of one device is
  // valid: its all-reduce still goes through NCCL (leaving the tensors as they are), so a
  // one-GPU machine runs the same code as a larger one.
  explicit GpuGroup(std::vector<int> devices);
  ~GpuGroup();
  GpuGroup(const GpuGroup&) = delete;
  GpuGroup& operator=(const GpuGroup&) = delete;

  const std::vector<int>& devices() const { return devices_; }

  // per_device[d] holds the tensors of devices()[d], all on that device; tensor i has the same
  // shape and dtype (f32, f16 or bf16) on every device. Afterwards tensor i on every device holds
  // the sum, or the average, of tensor i over the devices, reduced by NCCL in that dtype. Not
  // recorded by autograd (like Tensor::copy_from).
  //
  // Asynchronous: queued on the calling thread's stream of each device (runtime/stream_slots.h),
  // after what this thread queued there before; synchronize(Device) waits for it. Tensors made
  // by other threads must be complete, as everywhere in the backend (cuda.h).
  //
  // Inputs are checked before anything is queued: a mismatch throws hive::Error naming the
  // device, the tensor's index and the shapes or dtypes. Threads may share a group: calls are
  // queued one at a time (NCCL communicators are not thread-safe).
  void all_reduce(std::span<const std::vector<Tensor>> per_device, Reduction reduction);

 private:
  std::vector<int> devices_;
  std::vector<ncclComm*> communicators_;  // communicators_[d] is the rank on devices_[d]
  std::mutex queue_mutex_;
};

}  // namespace hive::cuda
