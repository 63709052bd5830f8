// Registration, device queries, allocation and copies of the CUDA backend; the kernels are in
// kernels/.
#include "cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include "cuda/cuda.h"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "cuda/runtime/staged_copy.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/error.h"

namespace hive::cuda {

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return 0;
  }
  return count;
}

void register_backend() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  HIVE_REQUIRE(status == cudaSuccess && count > 0, "the CUDA backend found no usable device: ",
               status == cudaSuccess ? "the driver reports 0 devices"
                                     : cudaGetErrorString(status));
  static CudaBackend backend;
  hive::register_backend(DeviceType::kCuda, &backend);
}

std::string describe_device(int index) {
  cudaDeviceProp properties{};
  HIVE_CUDA_CHECK(cudaGetDeviceProperties(&properties, index));
  return str_cat(properties.name, " (sm_", properties.major, properties.minor, ", ",
                 properties.multiProcessorCount, " SMs, ",
                 static_cast<double>(properties.totalGlobalMem) / static_cast<double>(size_t{1} << 30),
                 " GiB)");
}

void synchronize(Device device) {
  HIVE_REQUIRE(device.type == DeviceType::kCuda, "hive::cuda::synchronize: ", device,
               " is not a CUDA device");
  HIVE_CUDA_CHECK(cudaStreamSynchronize(current_stream(device.index)));
}

void CudaBackend::synchronize(Device device) { cuda::synchronize(device); }

std::shared_ptr<std::byte> CudaBackend::allocate(size_t bytes, Device device) {
  HIVE_CHECK(device.type == DeviceType::kCuda, "CUDA backend asked to allocate on ", device);
  return allocate_device_memory(bytes, device.index);
}

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  HIVE_CHECK(src.nbytes() == dst.nbytes(), "copy of ", src.nbytes(), " bytes into ", dst.nbytes());
  const auto* from = static_cast<const std::byte*>(src.raw_data());
  auto* to = static_cast<std::byte*>(dst.raw_data());
  const size_t bytes = src.nbytes();
  if (bytes == 0 || from == to) return;
  const Device from_device = src.device();
  const Device to_device = dst.device();
  if (from_device.is_cpu()) {
    copy_host_to_device(from, to, bytes, to_device.index);
  } else if (to_device.is_cpu()) {
    copy_device_to_host(from, to, bytes, from_device.index);
  } else if (from_device.index == to_device.index) {
    DeviceGuard guard(to_device.index);
    HIVE_CUDA_CHECK(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice,
                                    current_stream(to_device.index)));
  } else {
    // The destination's stream orders the copy after the source's pending work only if this
    // thread queued that work: wait for the source's stream first.
    const cudaStream_t from_stream = current_stream(from_device.index);
    HIVE_CUDA_CHECK(cudaStreamSynchronize(from_stream));
    DeviceGuard guard(to_device.index);
    const cudaStream_t to_stream = current_stream(to_device.index);
    HIVE_CUDA_CHECK(
        cudaMemcpyPeerAsync(to, to_device.index, from, from_device.index, bytes, to_stream));
    // And the source's stream must not run ahead of the copy, which is still reading src: later
    // work there may overwrite src, or free it (device memory is released in stream order on
    // that stream) and hand the block to a new tensor, while the peer copy is in flight.
    cudaEvent_t copied = nullptr;
    HIVE_CUDA_CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));  // on to_device
    cudaError_t status = cudaEventRecord(copied, to_stream);
    if (status == cudaSuccess) status = cudaStreamWaitEvent(from_stream, copied, 0);
    static_cast<void>(cudaEventDestroy(copied));  // safe while the wait is pending
    HIVE_CUDA_CHECK(status);
  }
}

}  // namespace hive::cuda
