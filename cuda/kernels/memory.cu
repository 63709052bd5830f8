// Casts, fills, arange and counter-based random fills on a CUDA device. Element for element the
// same conversions as engine/cpu/memory.cpp; uniform draws are bit-identical to the CPU's.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/element_access.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/multi_tensor.cuh"
#include "cuda/runtime/device_guard.h"
#include "engine/core/counter_random.h"
#include "engine/core/dtype_dispatch.h"
#include "engine/core/half.h"

namespace hive::cuda {
namespace {

template <typename T>
inline constexpr bool kIsFloating =
    std::is_same_v<T, float> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Float to integer: truncates toward zero, saturates at the type's range and maps NaN to 0. In
// double, as on the CPU, so both compare against the same bounds.
template <typename Dst>
__device__ Dst saturate(double value) {
  if (value != value) return Dst{0};
  constexpr auto lowest = static_cast<double>(std::numeric_limits<Dst>::lowest());
  constexpr auto highest = static_cast<double>(std::numeric_limits<Dst>::max());
  if (value <= lowest) return std::numeric_limits<Dst>::lowest();
  if (value >= highest) return std::numeric_limits<Dst>::max();
  return static_cast<Dst>(value);
}

// Converts one element between any two dtypes: floats through float, integers directly.
template <typename Dst, typename Src>
__device__ Dst convert(Src value) {
  if constexpr (kIsFloating<Src> && kIsFloating<Dst>) {
    return store<Dst>(load(value));
  } else if constexpr (kIsFloating<Src>) {
    return saturate<Dst>(load(value));
  } else if constexpr (kIsFloating<Dst>) {
    return store<Dst>(static_cast<float>(value));
  } else {
    return static_cast<Dst>(value);
  }
}

template <typename T>
T to_storage(float value) {
  if constexpr (std::is_same_v<T, Half>) {
    return to_half(value);
  } else {
    return to_bfloat16(value);
  }
}

// The largest value of floating type T that is below `high`, as a float (exactly representable
// in T). Computed on the host exactly as the CPU backend does.
template <typename T>
float largest_below(float high) {
  if constexpr (std::is_same_v<T, float>) {
    return std::nextafter(high, -std::numeric_limits<float>::infinity());
  } else {
    T candidate = to_storage<T>(high);
    // One step toward -infinity in T's bit pattern: down in magnitude when positive, up when
    // negative; +0 steps to the smallest negative subnormal.
    while (to_float(candidate) >= high) {
      const bool negative_or_zero = (candidate.bits & 0x8000u) != 0 || (candidate.bits & 0x7fffu) == 0;
      candidate.bits = static_cast<uint16_t>(negative_or_zero ? (candidate.bits | 0x8000u) + 1
                                                              : candidate.bits - 1);
    }
    return to_float(candidate);
  }
}

template <typename Dst, typename Src>
__global__ void cast_kernel(const Src* from, Dst* to, int64_t count) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) to[i] = convert<Dst>(from[i]);
}

template <typename T>
__global__ void fill_kernel(T* out, int64_t count, double value) {
  // Integers come straight from the double: through float, values above 2^24 would round.
  T element;
  if constexpr (kIsFloating<T>) {
    element = store<T>(static_cast<float>(value));
  } else {
    element = saturate<T>(value);
  }
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) out[i] = element;
}

template <typename T>
__global__ void arange_kernel(T* out, int64_t count) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) out[i] = convert<T>(i);
}

// The CPU computes base + width * u with two roundings (no contraction); __fmul_rn/__fadd_rn keep
// nvcc from fusing them into an FMA, so f32 draws match it bit for bit.
template <typename T>
__global__ void fill_uniform_kernel(T* out, int64_t count, RandomStream stream, float base,
                                    float width, float below_high) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const float u = random_uniform(stream.seed, stream.offset + static_cast<uint64_t>(i));
    const float value = __fadd_rn(base, __fmul_rn(width, u));
    // std::min(value, below_high) as the CPU writes it, NaN handling included.
    out[i] = store<T>(below_high < value ? below_high : value);
  }
}

template <typename T>
__global__ void fill_normal_kernel(T* out, int64_t count, RandomStream stream, float center,
                                   float spread) {
  for (int64_t i = global_thread_index(); i < count; i += grid_thread_count()) {
    const float z = random_normal(stream.seed, stream.offset + static_cast<uint64_t>(i));
    out[i] = store<T>(__fadd_rn(center, __fmul_rn(spread, z)));
  }
}

template <typename Dst, typename Src>
void launch_cast(const Tensor& src, const Tensor& dst) {
  const int64_t count = src.numel();
  cast_kernel<Dst, Src><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(dst)>>>(
      device_data<const Src>(src), device_data<Dst>(dst), count);
  HIVE_CUDA_CHECK_LAUNCH();
}

// A multi-tensor cast: all of the launch's tensors go from Src to Dst.
struct CastLaunch {
  ChunkTable table;
  const void* from[kTensorsPerLaunch];
  void* to[kTensorsPerLaunch];
};

template <typename Dst, typename Src>
__global__ void cast_many_kernel(const __grid_constant__ CastLaunch launch) {
  const ChunkRange range = block_chunk(launch.table);
  const Src* from = static_cast<const Src*>(launch.from[range.tensor]);
  Dst* to = static_cast<Dst*>(launch.to[range.tensor]);
  for (int64_t i = range.begin + threadIdx.x; i < range.end; i += blockDim.x) to[i] = convert<Dst>(from[i]);
}

// Casts every pair (all Src to Dst, on the current device) in launches of up to
// kTensorsPerLaunch tensors.
template <typename Dst, typename Src>
void launch_cast_many(std::span<const Tensor> sources, std::span<const Tensor> outputs,
                      std::span<const size_t> pairs, cudaStream_t stream) {
  CastLaunch launch{};
  const auto flush = [&] {
    const auto blocks = static_cast<unsigned int>(launch.table.chunks);
    cast_many_kernel<Dst, Src><<<blocks, kThreadsPerBlock, 0, stream>>>(launch);
    HIVE_CUDA_CHECK_LAUNCH();
    launch = CastLaunch{};
  };
  for (const size_t pair : pairs) {
    const int slot = add_tensor(launch.table, sources[pair].numel());
    launch.from[slot] = device_data<const Src>(sources[pair]);
    launch.to[slot] = device_data<Dst>(outputs[pair]);
    if (launch.table.count == kTensorsPerLaunch) flush();
  }
  if (launch.table.count > 0) flush();
}

template <typename T>
void launch_fill(const Tensor& out, double value) {
  const int64_t count = out.numel();
  fill_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(out)>>>(
      device_data<T>(out), count, value);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_arange(const Tensor& out) {
  const int64_t count = out.numel();
  arange_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(out)>>>(
      device_data<T>(out), count);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_fill_uniform(const Tensor& out, RandomStream stream, double low, double high) {
  const int64_t count = out.numel();
  const auto base = static_cast<float>(low);
  const auto width = static_cast<float>(high - low);
  // base + width * u can round up to `high` itself, in float or when narrowed to 16 bits; the
  // range is half-open.
  const float below_high = largest_below<T>(static_cast<float>(high));
  fill_uniform_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(out)>>>(
      device_data<T>(out), count, stream, base, width, below_high);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_fill_normal(const Tensor& out, RandomStream stream, double mean, double stddev) {
  const int64_t count = out.numel();
  fill_normal_kernel<T><<<grid_stride_blocks(count), kThreadsPerBlock, 0, stream_for(out)>>>(
      device_data<T>(out), count, stream, static_cast<float>(mean), static_cast<float>(stddev));
  HIVE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::cast(const Tensor& src, const Tensor& dst) {
  DeviceGuard guard(dst.device().index);
  if (src.numel() == 0) return;
  dispatch_all(src.dtype(), [&]<typename Src>() {
    dispatch_all(dst.dtype(), [&]<typename Dst>() { launch_cast<Dst, Src>(src, dst); });
  });
}

void CudaBackend::cast_many(std::span<const Tensor> sources, std::span<const Tensor> outputs) {
  HIVE_CHECK(sources.size() == outputs.size(), "cast_many: ", sources.size(), " sources for ",
             outputs.size(), " outputs");
  if (sources.empty()) return;
  const Device device = outputs.front().device();
  DeviceGuard guard(device.index);
  // Pairs by (source dtype, output dtype): each such group is one multi-tensor kernel. Pairs
  // with an integer side (rare: mixed precision casts floats) are cast one by one.
  std::map<std::pair<DType, DType>, std::vector<size_t>> groups;
  for (size_t i = 0; i < sources.size(); ++i) {
    HIVE_CHECK(sources[i].numel() == outputs[i].numel() && sources[i].device() == device &&
                   outputs[i].device() == device,
               "cast_many: pair ", i, " casts ", sources[i].numel(), " elements on ",
               sources[i].device(), " into ", outputs[i].numel(), " on ", outputs[i].device(),
               " (expected all on ", device, ")");
    if (sources[i].numel() == 0) continue;
    if (is_floating(sources[i].dtype()) && is_floating(outputs[i].dtype())) {
      groups[{sources[i].dtype(), outputs[i].dtype()}].push_back(i);
    } else {
      cast(sources[i], outputs[i]);
    }
  }
  const cudaStream_t stream = current_stream(device.index);
  for (const auto& [dtypes, pairs] : groups) {
    dispatch_floating(dtypes.first, [&]<typename Src>() {
      dispatch_floating(dtypes.second, [&]<typename Dst>() {
        launch_cast_many<Dst, Src>(sources, outputs, pairs, stream);
      });
    });
  }
}

void CudaBackend::fill(const Tensor& out, double value) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  dispatch_all(out.dtype(), [&]<typename T>() { launch_fill<T>(out, value); });
}

void CudaBackend::arange(const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  dispatch_all(out.dtype(), [&]<typename T>() { launch_arange<T>(out); });
}

void CudaBackend::fill_uniform(const Tensor& out, RandomStream stream, double low, double high) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  dispatch_floating(out.dtype(), [&]<typename T>() { launch_fill_uniform<T>(out, stream, low, high); });
}

void CudaBackend::fill_normal(const Tensor& out, RandomStream stream, double mean, double stddev) {
  DeviceGuard guard(out.device().index);
  if (out.numel() == 0) return;
  dispatch_floating(out.dtype(), [&]<typename T>() { launch_fill_normal<T>(out, stream, mean, stddev); });
}

}  // namespace hive::cuda
