// Per-device execution resources shared by the threads that use the device.
//
// Each device has a fixed set of stream slots; a thread is assigned one slot per device, round
// robin, on its first call, and keeps it. Work from different threads (an expert server's
// runtime threads, a trainer's workers) thus runs on different non-blocking streams instead of
// serializing on the legacy default stream, while the number of streams stays bounded however
// many threads come and go. A slot also owns the cuBLASLt workspace and the pinned staging
// buffers that work on its stream uses, and a cuBLAS handle bound to its stream.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <mutex>

namespace hive::cuda {

inline constexpr size_t kGemmWorkspaceBytes = size_t{32} << 20;  // cuBLASLt's advice for Hopper
inline constexpr size_t kStagingChunkBytes = size_t{8} << 20;

struct StreamSlot {
  int device = 0;
  cudaStream_t stream = nullptr;
  void* gemm_workspace = nullptr;  // kGemmWorkspaceBytes of device memory
  // Two pinned host buffers of kStagingChunkBytes, used alternately by chunked copies, and the
  // events that say when the copy out of / into each has finished. Threads sharing the slot take
  // staging_mutex around a whole copy.
  std::array<std::byte*, 2> staging{};
  std::array<cudaEvent_t, 2> staging_done{};
  std::mutex staging_mutex;
  // Where the next upload is staged: uploads fill a buffer one after another and move to the
  // other one when it is full, so small asynchronous uploads wait for the device only when a
  // buffer comes round again. Bytes before the offset may still be in flight; those after it
  // are free (every other user of the buffers waits for their copies to finish).
  size_t staging_buffer = 0;
  size_t staging_offset = 0;
  // Made by cublas_handle() on first use: most processes never call the grouped GEMM, the one
  // cuBLAS (not Lt) call, and each handle costs device memory.
  cublasHandle_t cublas = nullptr;
  std::once_flag cublas_created;
};

// The calling thread's slot on `device` (created on first use). The device must exist.
StreamSlot& current_slot(int device);
inline cudaStream_t current_stream(int device) { return current_slot(device).stream; }
// One cuBLASLt handle per device (cuBLASLt handles may be shared by threads).
cublasLtHandle_t blas_handle(int device);
// The slot's cuBLAS handle, made on first use: on the slot's stream, with the slot's GEMM
// workspace (shared with cuBLASLt: both run on this stream, so never at the same time) and the
// default math mode, so CUBLAS_COMPUTE_32F never becomes TF32. Threads sharing the slot may use
// it at once: its configuration never changes after it is made.
cublasHandle_t cublas_handle(StreamSlot& slot);

}  // namespace hive::cuda
