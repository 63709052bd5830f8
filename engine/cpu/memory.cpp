// Allocation, copies, casts, fills and random draws on the CPU.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "engine/core/counter_random.h"
#include "engine/cpu/caching_host_allocator.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

// Float to integer: truncates toward zero, saturates at the type's range and maps NaN to 0.
template <typename Dst>
Dst saturate(double value) {
  if (std::isnan(value)) return Dst{0};
  constexpr auto lowest = static_cast<double>(std::numeric_limits<Dst>::lowest());
  constexpr auto highest = static_cast<double>(std::numeric_limits<Dst>::max());
  if (value <= lowest) return std::numeric_limits<Dst>::lowest();
  if (value >= highest) return std::numeric_limits<Dst>::max();
  return static_cast<Dst>(value);
}

// The largest value of floating type T that is below `high`, as a float (exactly representable
// in T, so storing it back is exact).
template <typename T>
float largest_below(float high) {
  if constexpr (std::is_same_v<T, float>) {
    return std::nextafter(high, -std::numeric_limits<float>::infinity());
  } else {
    T candidate = cpu::store<T>(high);
    // One step toward -infinity in T's bit pattern: down in magnitude when positive, up when
    // negative; +0 steps to the smallest negative subnormal.
    while (cpu::load(candidate) >= high) {
      const bool negative_or_zero = (candidate.bits & 0x8000u) != 0 || (candidate.bits & 0x7fffu) == 0;
      candidate.bits = static_cast<uint16_t>(negative_or_zero ? (candidate.bits | 0x8000u) + 1 : candidate.bits - 1);
    }
    return cpu::load(candidate);
  }
}

// Converts one element between any two dtypes: floats through float, integers through int64.
template <typename Dst, typename Src>
Dst convert(Src value) {
  constexpr bool src_float = std::is_same_v<Src, float> || std::is_same_v<Src, Half> ||
                             std::is_same_v<Src, BFloat16>;
  constexpr bool dst_float = std::is_same_v<Dst, float> || std::is_same_v<Dst, Half> ||
                             std::is_same_v<Dst, BFloat16>;
  if constexpr (src_float && dst_float) {
    return cpu::store<Dst>(cpu::load(value));
  } else if constexpr (src_float) {
    return saturate<Dst>(cpu::load(value));
  } else if constexpr (dst_float) {
    return cpu::store<Dst>(static_cast<float>(value));
  } else {
    return static_cast<Dst>(value);
  }
}

}  // namespace

CpuBackend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

std::shared_ptr<std::byte> CpuBackend::allocate(size_t bytes, Device device) {
  HIVE_CHECK(device.is_cpu(), "CPU backend asked to allocate on ", device);
  return CachingHostAllocator::instance().allocate(bytes);
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  HIVE_CHECK(src.device().is_cpu() && dst.device().is_cpu(), "CPU backend copy from ",
             src.device(), " to ", dst.device());
  HIVE_CHECK(src.nbytes() == dst.nbytes(), "copy of ", src.nbytes(), " bytes into ", dst.nbytes());
  const auto* from = static_cast<const std::byte*>(src.raw_data());
  auto* to = static_cast<std::byte*>(dst.raw_data());
  if (from == to) return;
  cpu::parallel_for(static_cast<int64_t>(src.nbytes()), 1 << 20, [&](int64_t begin, int64_t end) {
    std::memcpy(to + begin, from + begin, static_cast<size_t>(end - begin));
  });
}

void CpuBackend::cast(const Tensor& src, const Tensor& dst) {
  dispatch_all(src.dtype(), [&]<typename Src>() {
    dispatch_all(dst.dtype(), [&]<typename Dst>() {
      const Src* from = static_cast<const Src*>(src.raw_data());
      Dst* to = static_cast<Dst*>(dst.raw_data());
      cpu::parallel_for(src.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) to[i] = convert<Dst>(from[i]);
      });
    });
  });
}

void CpuBackend::fill(const Tensor& out, double value) {
  dispatch_all(out.dtype(), [&]<typename T>() {
    T* data = static_cast<T*>(out.raw_data());
    // Integers come straight from the double: through float, values above 2^24 would round.
    T element;
    if constexpr (std::is_integral_v<T>) {
      element = saturate<T>(value);
    } else {
      element = convert<T>(static_cast<float>(value));
    }
    cpu::parallel_for(out.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      std::fill(data + begin, data + end, element);
    });
  });
}

void CpuBackend::arange(const Tensor& out) {
  dispatch_all(out.dtype(), [&]<typename T>() {
    T* data = static_cast<T*>(out.raw_data());
    for (int64_t i = 0; i < out.numel(); ++i) data[i] = convert<T>(i);
  });
}

void CpuBackend::fill_uniform(const Tensor& out, RandomStream stream, double low, double high) {
  dispatch_floating(out.dtype(), [&]<typename T>() {
    T* data = static_cast<T*>(out.raw_data());
    const auto base = static_cast<float>(low);
    const auto width = static_cast<float>(high - low);
    // base + width * u can round up to `high` itself, in float or when narrowed to 16 bits; the
    // range is half-open.
    const float below_high = largest_below<T>(static_cast<float>(high));
    cpu::parallel_for(out.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float u = random_uniform(stream.seed, stream.offset + static_cast<uint64_t>(i));
        data[i] = cpu::store<T>(std::min(base + width * u, below_high));
      }
    });
  });
}

void CpuBackend::fill_normal(const Tensor& out, RandomStream stream, double mean, double stddev) {
  dispatch_floating(out.dtype(), [&]<typename T>() {
    T* data = static_cast<T*>(out.raw_data());
    const auto center = static_cast<float>(mean);
    const auto spread = static_cast<float>(stddev);
    cpu::parallel_for(out.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float z = random_normal(stream.seed, stream.offset + static_cast<uint64_t>(i));
        data[i] = cpu::store<T>(center + spread * z);
      }
    });
  });
}

}  // namespace hive
