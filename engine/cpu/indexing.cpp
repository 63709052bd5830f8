// Indexing kernels: index_select / index_add (whole slices along an axis), gather / scatter_add
// (one element per index), concat / split, and top-k. Writes that may collide (repeated indices)
// are parallelized only across disjoint (outer, column-block) tasks, so no two threads ever add
// into the same element.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

constexpr int64_t kColumnBlock = 1024;

int64_t column_blocks(int64_t inner) { return std::max<int64_t>(1, (inner + kColumnBlock - 1) / kColumnBlock); }

// Runs body(o, column_begin, column_end) for every outer index and block of inner columns.
template <typename Body>
void for_each_column_block(AxisLayout layout, int64_t work_per_task, const Body& body) {
  const int64_t blocks = column_blocks(layout.inner);
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(work_per_task, 1));
  cpu::parallel_for(layout.outer * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t column_begin = (task % blocks) * kColumnBlock;
      body(task / blocks, column_begin, std::min(layout.inner, column_begin + kColumnBlock));
    }
  });
}

}  // namespace

void CpuBackend::index_select(const Tensor& x, AxisLayout layout, const Tensor& index,
                              const Tensor& out) {
  const int64_t count = index.numel();
  const size_t element = dtype_size(x.dtype());
  const size_t slice_bytes = static_cast<size_t>(layout.inner) * element;
  const auto* in = static_cast<const std::byte*>(x.raw_data());
  auto* result = static_cast<std::byte*>(out.raw_data());
  dispatch_index(index.dtype(), [&]<typename I>() {
    const I* positions = static_cast<const I*>(index.raw_data());
    const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(static_cast<int64_t>(slice_bytes), 1));
    cpu::parallel_for(layout.outer * count, grain, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t o = task / count;
        const int64_t j = task % count;
        const auto source_slice = o * layout.axis + static_cast<int64_t>(positions[j]);
        std::memcpy(result + static_cast<size_t>(task) * slice_bytes,
                    in + static_cast<size_t>(source_slice) * slice_bytes, slice_bytes);
      }
    });
  });
}

void CpuBackend::index_add(const Tensor& out, AxisLayout layout, const Tensor& index,
                           const Tensor& src) {
  const int64_t count = index.numel();
  dispatch_floating(out.dtype(), [&]<typename T>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      const I* positions = static_cast<const I*>(index.raw_data());
      const T* source = static_cast<const T*>(src.raw_data());
      T* target = static_cast<T*>(out.raw_data());
      for_each_column_block(layout, count * kColumnBlock, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t j = 0; j < count; ++j) {
          const T* from = source + (o * count + j) * layout.inner;
          T* to = target + (o * layout.axis + static_cast<int64_t>(positions[j])) * layout.inner;
          for (int64_t c = c0; c < c1; ++c) to[c] = cpu::store<T>(cpu::load(to[c]) + cpu::load(from[c]));
        }
      });
    });
  });
}

void CpuBackend::gather(const Tensor& x, AxisLayout layout, const Tensor& index, const Tensor& out) {
  const int64_t count = index.numel() / std::max<int64_t>(layout.outer * layout.inner, 1);
  dispatch_all(x.dtype(), [&]<typename T>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      const T* in = static_cast<const T*>(x.raw_data());
      const I* positions = static_cast<const I*>(index.raw_data());
      T* result = static_cast<T*>(out.raw_data());
      cpu::parallel_for(index.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t e = begin; e < end; ++e) {
          const int64_t o = e / (count * layout.inner);
          const int64_t i = e % layout.inner;
          result[e] = in[(o * layout.axis + static_cast<int64_t>(positions[e])) * layout.inner + i];
        }
      });
    });
  });
}

void CpuBackend::scatter_add(const Tensor& out, AxisLayout layout, const Tensor& index,
                             const Tensor& src) {
  const int64_t count = index.numel() / std::max<int64_t>(layout.outer * layout.inner, 1);
  dispatch_floating(out.dtype(), [&]<typename T>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      const I* positions = static_cast<const I*>(index.raw_data());
      const T* source = static_cast<const T*>(src.raw_data());
      T* target = static_cast<T*>(out.raw_data());
      for_each_column_block(layout, count * kColumnBlock, [&](int64_t o, int64_t c0, int64_t c1) {
        for (int64_t j = 0; j < count; ++j) {
          const int64_t row = (o * count + j) * layout.inner;
          for (int64_t c = c0; c < c1; ++c) {
            T& to = target[(o * layout.axis + static_cast<int64_t>(positions[row + c])) * layout.inner + c];
            to = cpu::store<T>(cpu::load(to) + cpu::load(source[row + c]));
          }
        }
      });
    });
  });
}

void CpuBackend::concat(std::span<const Tensor> inputs, int axis, const Tensor& out) {
  const AxisLayout out_layout = AxisLayout::around(out.shape(), axis);
  const size_t element = dtype_size(out.dtype());
  auto* result = static_cast<std::byte*>(out.raw_data());
  const size_t out_slab = static_cast<size_t>(out_layout.axis * out_layout.inner) * element;
  size_t offset = 0;  // bytes into each output slab where the current input starts
  for (const Tensor& input : inputs) {
    const size_t slab = static_cast<size_t>(input.shape()[axis] * out_layout.inner) * element;
    const auto* source = static_cast<const std::byte*>(input.raw_data());
    cpu::parallel_for(out_layout.outer, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(static_cast<int64_t>(slab), 1)),
                      [&](int64_t begin, int64_t end) {
                        for (int64_t o = begin; o < end; ++o) {
                          std::memcpy(result + static_cast<size_t>(o) * out_slab + offset,
                                      source + static_cast<size_t>(o) * slab, slab);
                        }
                      });
    offset += slab;
  }
}

void CpuBackend::split(const Tensor& x, int axis, std::span<const Tensor> outputs) {
  const AxisLayout in_layout = AxisLayout::around(x.shape(), axis);
  const size_t element = dtype_size(x.dtype());
  const auto* source = static_cast<const std::byte*>(x.raw_data());
  const size_t in_slab = static_cast<size_t>(in_layout.axis * in_layout.inner) * element;
  size_t offset = 0;
  for (const Tensor& output : outputs) {
    const size_t slab = static_cast<size_t>(output.shape()[axis] * in_layout.inner) * element;
    auto* result = static_cast<std::byte*>(output.raw_data());
    cpu::parallel_for(in_layout.outer, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(static_cast<int64_t>(slab), 1)),
                      [&](int64_t begin, int64_t end) {
                        for (int64_t o = begin; o < end; ++o) {
                          std::memcpy(result + static_cast<size_t>(o) * slab,
                                      source + static_cast<size_t>(o) * in_slab + offset, slab);
                        }
                      });
    offset += slab;
  }
}

void CpuBackend::topk(const Tensor& x, int64_t k, const Tensor& values, const Tensor& indices) {
  const int64_t width = x.size(-1);
  const int64_t rows = width == 0 ? 0 : x.numel() / width;
  if (k == 0) return;
  dispatch_floating(x.dtype(), [&]<typename T>() {
    const T* in = static_cast<const T*>(x.raw_data());
    T* top_values = static_cast<T*>(values.raw_data());
    int64_t* top_indices = indices.data<int64_t>();
    const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / std::max<int64_t>(width, 1));
    cpu::parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> order(static_cast<size_t>(width));
      for (int64_t row = begin; row < end; ++row) {
        const T* line = in + row * width;
        // Descending by value, NaN first, ties by lower index: a strict total order, so the
        // result does not depend on the sort algorithm.
        auto before = [line](int64_t i, int64_t j) {
          const float a = cpu::load(line[i]);
          const float b = cpu::load(line[j]);
          const bool a_nan = std::isnan(a);
          const bool b_nan = std::isnan(b);
          if (a_nan != b_nan) return a_nan;
          if (!a_nan && a != b) return a > b;
          return i < j;
        };
        std::iota(order.begin(), order.end(), int64_t{0});
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          top_indices[row * k + j] = order[static_cast<size_t>(j)];
          top_values[row * k + j] = line[order[static_cast<size_t>(j)]];
        }
      }
    });
  });
}

}  // namespace hive
