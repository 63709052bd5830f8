// Indexing kernels, mirroring engine/cpu/indexing.cpp: index_select / index_add (whole slices
// along an axis), gather / scatter_add (one element per index), concat / split.
//
// Copies move raw bytes, whatever the dtype, in the widest word (up to 16 bytes) that divides
// every slice and address involved, so a row of bf16 moves as 16-byte vectors when it can.
// The adds accumulate with atomics: repeated indices may land on one element from many threads,
// so sums are exact per add but their order (and so the rounding of the total) is not fixed.
// Every kernel is a grid-stride loop over the elements (or words) it writes or reads once.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <span>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "engine/core/dtype_dispatch.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// Calls body.template operator()<Word>() with a plain type of `bytes` bytes (1, 2, 4, 8 or 16).
template <typename Body>
void dispatch_word(size_t bytes, const Body& body) {
  switch (bytes) {
    case 1: body.template operator()<uint8_t>(); return;
    case 2: body.template operator()<uint16_t>(); return;
    case 4: body.template operator()<uint32_t>(); return;
    case 8: body.template operator()<uint64_t>(); return;
    case 16: body.template operator()<uint4>(); return;
    default: HIVE_CHECK(false, "dispatch_word: no word of ", bytes, " bytes");
  }
}

uintptr_t address(const Tensor& tensor) { return reinterpret_cast<uintptr_t>(tensor.raw_data()); }

// The widest word, up to 16 bytes, dividing every one of `quantities` (byte counts and
// addresses): the lowest bit set in any of them.
size_t widest_common_word(std::initializer_list<uintptr_t> quantities) {
  uintptr_t bits = 16;
  for (uintptr_t quantity : quantities) bits |= quantity;
  return static_cast<size_t>(bits & (~bits + 1));
}

__device__ __forceinline__ void atomic_add(float* target, float value) { atomicAdd(target, value); }
__device__ __forceinline__ void atomic_add(Half* target, Half value) {
  atomicAdd(reinterpret_cast<__half*>(target), __ushort_as_half(value.bits));
}
__device__ __forceinline__ void atomic_add(BFloat16* target, BFloat16 value) {
  atomicAdd(reinterpret_cast<__nv_bfloat16*>(target), __ushort_as_bfloat16(value.bits));
}

// ---------------------------------------------------------------------------------------------
// index_select / index_add: x (or out) is [outer, axis, inner], the indexed side [outer, count,
// inner], and element e of the latter sits at (o, j, i) with e = (o * count + j) * inner + i.

// Measured in words: inner is the words of one slice.
template <typename Word, typename I>
__global__ void index_select_kernel(const Word* x, const I* index, AxisLayout layout,
                                    int64_t count, int64_t total, Word* out) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    const int64_t slice = e / layout.inner;  // o * count + j
    const int64_t o = slice / count;
    const int64_t j = slice - o * count;
    const int64_t i = e - slice * layout.inner;
    out[e] = x[(o * layout.axis + static_cast<int64_t>(index[j])) * layout.inner + i];
  }
}

template <typename Word, typename I>
void launch_index_select(const Word* x, const I* index, AxisLayout layout, int64_t count,
                         Word* out, cudaStream_t stream) {
  const int64_t total = layout.outer * count * layout.inner;
  if (total == 0) return;
  index_select_kernel<<<grid_stride_blocks(total), kThreadsPerBlock, 0, stream>>>(
      x, index, layout, count, total, out);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T, typename I>
__global__ void index_add_kernel(const T* src, const I* index, AxisLayout layout, int64_t count,
                                 int64_t total, T* out) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    const int64_t slice = e / layout.inner;
    const int64_t o = slice / count;
    const int64_t j = slice - o * count;
    const int64_t i = e - slice * layout.inner;
    atomic_add(out + (o * layout.axis + static_cast<int64_t>(index[j])) * layout.inner + i, src[e]);
  }
}

template <typename T, typename I>
void launch_index_add(const T* src, const I* index, AxisLayout layout, int64_t count, T* out,
                      cudaStream_t stream) {
  const int64_t total = layout.outer * count * layout.inner;
  if (total == 0) return;
  index_add_kernel<<<grid_stride_blocks(total), kThreadsPerBlock, 0, stream>>>(src, index, layout,
                                                                               count, total, out);
  HIVE_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------------------------------------
// gather / scatter_add: index (and the gathered or scattered side) is [outer, count, inner] and
// holds one position along the axis per element.

template <typename Word, typename I>
__global__ void gather_kernel(const Word* x, const I* index, AxisLayout layout, int64_t count,
                              int64_t total, Word* out) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    const int64_t o = e / (count * layout.inner);
    const int64_t i = e % layout.inner;
    out[e] = x[(o * layout.axis + static_cast<int64_t>(index[e])) * layout.inner + i];
  }
}

template <typename Word, typename I>
void launch_gather(const Word* x, const I* index, AxisLayout layout, int64_t total, Word* out,
                   cudaStream_t stream) {
  if (total == 0) return;
  const int64_t count = total / (layout.outer * layout.inner);
  gather_kernel<<<grid_stride_blocks(total), kThreadsPerBlock, 0, stream>>>(x, index, layout,
                                                                            count, total, out);
  HIVE_CUDA_CHECK_LAUNCH();
}

template <typename T, typename I>
__global__ void scatter_add_kernel(const T* src, const I* index, AxisLayout layout,
                                   int64_t count, int64_t total, T* out) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    const int64_t o = e / (count * layout.inner);
    const int64_t i = e % layout.inner;
    atomic_add(out + (o * layout.axis + static_cast<int64_t>(index[e])) * layout.inner + i, src[e]);
  }
}

template <typename T, typename I>
void launch_scatter_add(const T* src, const I* index, AxisLayout layout, int64_t total, T* out,
                        cudaStream_t stream) {
  if (total == 0) return;
  const int64_t count = total / (layout.outer * layout.inner);
  scatter_add_kernel<<<grid_stride_blocks(total), kThreadsPerBlock, 0, stream>>>(
      src, index, layout, count, total, out);
  HIVE_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------------------------------------
// concat / split: each piece is, per outer index, one contiguous run of words inside the
// matching row of the whole; copying a piece copies `rows` such runs.

// Row r of `row_words` words goes from source + r * source_stride to target + r * target_stride.
template <typename Word>
__global__ void copy_rows_kernel(const Word* source, int64_t source_stride, Word* target,
                                 int64_t target_stride, int64_t row_words, int64_t total) {
  for (int64_t e = global_thread_index(); e < total; e += grid_thread_count()) {
    const int64_t row = e / row_words;
    const int64_t column = e - row * row_words;
    target[row * target_stride + column] = source[row * source_stride + column];
  }
}

template <typename Word>
void launch_copy_rows(const Word* source, int64_t source_stride, Word* target,
                      int64_t target_stride, int64_t rows, int64_t row_words,
                      cudaStream_t stream) {
  const int64_t total = rows * row_words;
  if (total == 0) return;
  copy_rows_kernel<<<grid_stride_blocks(total), kThreadsPerBlock, 0, stream>>>(
      source, source_stride, target, target_stride, row_words, total);
  HIVE_CUDA_CHECK_LAUNCH();
}

// Bytes of one piece's run per outer index: its extent along `axis` times the inner slice.
uintptr_t run_bytes(const Tensor& piece, int axis, int64_t inner) {
  return static_cast<uintptr_t>(piece.shape()[axis] * inner) * dtype_size(piece.dtype());
}

// The word that divides every piece's run and address as well as the whole's, so each piece
// starts on a word boundary of every row of the whole (its offset is a sum of earlier runs).
size_t pieces_word(const Tensor& whole, std::span<const Tensor> pieces, int axis,
                   int64_t inner) {
  uintptr_t quantities = address(whole) | run_bytes(whole, axis, inner);
  for (const Tensor& piece : pieces) quantities |= address(piece) | run_bytes(piece, axis, inner);
  return widest_common_word({quantities});
}

}  // namespace

void CudaBackend::index_select(const Tensor& x, AxisLayout x_layout, const Tensor& index,
                               const Tensor& out) {
  DeviceGuard guard(out.device().index);
  const size_t slice_bytes = static_cast<size_t>(x_layout.inner) * dtype_size(x.dtype());
  const size_t word = widest_common_word({address(x), address(out), slice_bytes});
  const AxisLayout in_words{x_layout.outer, x_layout.axis,
                            static_cast<int64_t>(slice_bytes / word)};
  dispatch_word(word, [&]<typename Word>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      launch_index_select(device_data<const Word>(x), device_data<const I>(index), in_words,
                          index.numel(), device_data<Word>(out), stream_for(out));
    });
  });
}

void CudaBackend::index_add(const Tensor& out, AxisLayout out_layout, const Tensor& index,
                            const Tensor& src) {
  DeviceGuard guard(out.device().index);
  dispatch_floating(out.dtype(), [&]<typename T>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      launch_index_add(device_data<const T>(src), device_data<const I>(index), out_layout,
                       index.numel(), device_data<T>(out), stream_for(out));
    });
  });
}

void CudaBackend::gather(const Tensor& x, AxisLayout x_layout, const Tensor& index,
                         const Tensor& out) {
  DeviceGuard guard(out.device().index);
  dispatch_word(dtype_size(x.dtype()), [&]<typename Word>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      launch_gather(device_data<const Word>(x), device_data<const I>(index), x_layout,
                    index.numel(), device_data<Word>(out), stream_for(out));
    });
  });
}

void CudaBackend::scatter_add(const Tensor& out, AxisLayout out_layout, const Tensor& index,
                              const Tensor& src) {
  DeviceGuard guard(out.device().index);
  dispatch_floating(out.dtype(), [&]<typename T>() {
    dispatch_index(index.dtype(), [&]<typename I>() {
      launch_scatter_add(device_data<const T>(src), device_data<const I>(index), out_layout,
                         index.numel(), device_data<T>(out), stream_for(out));
    });
  });
}

void CudaBackend::concat(std::span<const Tensor> inputs, int axis, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  const AxisLayout layout = AxisLayout::around(out.shape(), axis);
  const size_t word = pieces_word(out, inputs, axis, layout.inner);
  const auto out_row_words = static_cast<int64_t>(run_bytes(out, axis, layout.inner) / word);
  dispatch_word(word, [&]<typename Word>() {
    Word* result = device_data<Word>(out);
    int64_t offset = 0;  // words into each row of out where the current input starts
    for (const Tensor& input : inputs) {
      const auto row_words = static_cast<int64_t>(run_bytes(input, axis, layout.inner) / word);
      launch_copy_rows(device_data<const Word>(input), row_words, result + offset, out_row_words,
                       layout.outer, row_words, stream_for(out));
      offset += row_words;
    }
  });
}

void CudaBackend::split(const Tensor& x, int axis, std::span<const Tensor> outputs) {
  if (outputs.empty()) return;
  DeviceGuard guard(outputs[0].device().index);
  const AxisLayout layout = AxisLayout::around(x.shape(), axis);
  const size_t word = pieces_word(x, outputs, axis, layout.inner);
  const auto x_row_words = static_cast<int64_t>(run_bytes(x, axis, layout.inner) / word);
  dispatch_word(word, [&]<typename Word>() {
    const Word* source = device_data<const Word>(x);
    int64_t offset = 0;  // words into each row of x where the current output starts
    for (const Tensor& output : outputs) {
      const auto row_words = static_cast<int64_t>(run_bytes(output, axis, layout.inner) / word);
      launch_copy_rows(source + offset, x_row_words, device_data<Word>(output), row_words,
                       layout.outer, row_words, stream_for(output));
      offset += row_words;
    }
  });
}

}  // namespace hive::cuda
