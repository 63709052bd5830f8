#include "cuda/runtime/stream_slots.h"

#include <atomic>
#include <memory>
#include <vector>

#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

constexpr size_t kSlotsPerDevice = 8;
constexpr size_t kMaxDevices = 64;

// Owns a slot's handles. Slots live as long as the process once a device is set up; they are
// released only when setting up a device fails part way, so nothing made before is leaked.
struct OwnedSlot {
  StreamSlot slot;
  OwnedSlot(const OwnedSlot&) = delete;
  OwnedSlot& operator=(const OwnedSlot&) = delete;
  explicit OwnedSlot(int device) {
    DeviceGuard guard(device);
    slot.device = device;
    try {
      HIVE_CUDA_CHECK(cudaStreamCreateWithFlags(&slot.stream, cudaStreamNonBlocking));
      HIVE_CUDA_CHECK(cudaMalloc(&slot.gemm_workspace, kGemmWorkspaceBytes));
      for (size_t i = 0; i < slot.staging.size(); ++i) {
        void* pinned = nullptr;
        HIVE_CUDA_CHECK(cudaMallocHost(&pinned, kStagingChunkBytes));
        slot.staging[i] = static_cast<std::byte*>(pinned);
        HIVE_CUDA_CHECK(cudaEventCreateWithFlags(&slot.staging_done[i], cudaEventDisableTiming));
      }
    } catch (...) {
      release();  // a constructor that throws gets no destructor call
      throw;
    }
  }
  ~OwnedSlot() { release(); }

  void release() {
    if (slot.cublas != nullptr) static_cast<void>(cublasDestroy(slot.cublas));
    for (size_t i = 0; i < slot.staging.size(); ++i) {
      if (slot.staging_done[i] != nullptr) static_cast<void>(cudaEventDestroy(slot.staging_done[i]));
      if (slot.staging[i] != nullptr) static_cast<void>(cudaFreeHost(slot.staging[i]));
    }
    if (slot.gemm_workspace != nullptr) static_cast<void>(cudaFree(slot.gemm_workspace));
    if (slot.stream != nullptr) static_cast<void>(cudaStreamDestroy(slot.stream));
  }
};

struct DeviceResources {
  std::once_flag created;
  std::vector<std::unique_ptr<OwnedSlot>> slots;
  cublasLtHandle_t blas = nullptr;
  std::atomic<size_t> next_slot{0};

  // Publishes the slots and the handle only when all of them were made; a failure (out of
  // memory for the workspaces, say) frees what was made and lets a later call try again.
  void create(int device) {
    std::call_once(created, [&] {
      DeviceGuard guard(device);
      std::vector<std::unique_ptr<OwnedSlot>> made;
      for (size_t i = 0; i < kSlotsPerDevice; ++i) made.push_back(std::make_unique<OwnedSlot>(device));
      cublasLtHandle_t handle = nullptr;
      HIVE_CUBLAS_CHECK(cublasLtCreate(&handle));
      slots = std::move(made);
      blas = handle;
    });
  }
};

// Never destroyed: tensors held by other static objects are freed during static destruction,
// on these streams, whose handles must stay valid until the CUDA runtime itself unloads.
std::vector<std::unique_ptr<DeviceResources>>& all_devices() {
  static auto* devices = [] {
    int count = 0;
    HIVE_CUDA_CHECK(cudaGetDeviceCount(&count));
    auto* result = new std::vector<std::unique_ptr<DeviceResources>>();
    for (int i = 0; i < count; ++i) result->push_back(std::make_unique<DeviceResources>());
    return result;
  }();
  return *devices;
}

DeviceResources& resources_of(int device) {
  auto& devices = all_devices();
  HIVE_REQUIRE(device >= 0 && static_cast<size_t>(device) < devices.size(), "cuda:", device,
               " does not exist: this machine has ", devices.size(), " CUDA device(s)");
  DeviceResources& resources = *devices[static_cast<size_t>(device)];
  resources.create(device);
  return resources;
}

// Waits, when a thread ends, for the work it queued: memory it used may be freed next by
// another thread (parameters that a server's runtime thread updated, freed at shutdown by the
// thread that made them), in the order of a stream that knows nothing of this thread's work.
class DrainStreamsAtThreadExit {
 public:
  void add(cudaStream_t stream) {
    for (cudaStream_t known : streams_) {
      if (known == stream) return;
    }
    streams_.push_back(stream);
  }
  ~DrainStreamsAtThreadExit() {
    // At process exit the runtime may already be unloading: nothing to wait for then.
    for (cudaStream_t stream : streams_) static_cast<void>(cudaStreamSynchronize(stream));
  }

 private:
  std::vector<cudaStream_t> streams_;
};

}  // namespace

StreamSlot& current_slot(int device) {
  // Small per-thread cache: slot index per device, -1 until assigned.
  DeviceResources& resources = resources_of(device);
  HIVE_REQUIRE(static_cast<size_t>(device) < kMaxDevices, "cuda:", device, ": hive supports ",
               kMaxDevices, " devices per machine");
  // Trivially destructible, so frees during static destruction (after thread_local objects with
  // destructors are gone) can still ask for their thread's slot. Slot numbers are stored + 1.
  thread_local std::array<int, kMaxDevices> assigned{};
  int& index_plus_one = assigned[static_cast<size_t>(device)];
  if (index_plus_one == 0) {
    index_plus_one = static_cast<int>(resources.next_slot.fetch_add(1) % kSlotsPerDevice) + 1;
    thread_local DrainStreamsAtThreadExit drain;
    drain.add(resources.slots[static_cast<size_t>(index_plus_one - 1)]->slot.stream);
  }
  const int index = index_plus_one - 1;
  return resources.slots[static_cast<size_t>(index)]->slot;
}

cublasLtHandle_t blas_handle(int device) { return resources_of(device).blas; }

cublasHandle_t cublas_handle(StreamSlot& slot) {
  std::call_once(slot.cublas_created, [&] {
    DeviceGuard guard(slot.device);
    cublasHandle_t made = nullptr;
    HIVE_CUBLAS_CHECK(cublasCreate(&made));
    // Destroyed again if configuring it fails; call_once then lets a later call try anew.
    const auto destroy = [](cublasHandle_t handle) { static_cast<void>(cublasDestroy(handle)); };
    std::unique_ptr<cublasContext, decltype(destroy)> handle(made, destroy);
    // In this order: setting the stream drops any workspace set before.
    HIVE_CUBLAS_CHECK(cublasSetStream(handle.get(), slot.stream));
    HIVE_CUBLAS_CHECK(cublasSetWorkspace(handle.get(), slot.gemm_workspace, kGemmWorkspaceBytes));
    HIVE_CUBLAS_CHECK(cublasSetMathMode(handle.get(), CUBLAS_DEFAULT_MATH));
    slot.cublas = handle.release();
  });
  return slot.cublas;
}

}  // namespace hive::cuda
