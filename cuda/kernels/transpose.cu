// Swapping the last two axes of a tensor (batched over the leading ones). Transposing only moves
// bytes, so elements are copied as unsigned integers of the dtype's width, for any dtype.
//
// A block moves one 32x32 tile through shared memory: it reads the tile row by row from x and
// writes it column by column to out, so both the global reads and the global writes are
// coalesced; the tile's one extra column keeps the column reads free of bank conflicts.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/launch.cuh"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

constexpr int kTile = 32;
constexpr int kTileRowsPerPass = 8;  // a block of 32 x 8 threads moves a tile in 4 passes
// Tiles are visited by a block-stride loop, so neither a huge batch nor a huge matrix can
// exceed the grid's limits.
constexpr int64_t kMaxTileBlocks = 132 * 16;

// in is [batch, rows, cols] and out [batch, cols, rows].
template <typename Element>
__global__ void transpose_kernel(const Element* __restrict__ in, Element* __restrict__ out,
                                 int64_t batch, int64_t rows, int64_t cols) {
  __shared__ Element tile[kTile][kTile + 1];
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  const int64_t col_tiles = (cols + kTile - 1) / kTile;
  const int64_t tiles = batch * row_tiles * col_tiles;
  const int x = static_cast<int>(threadIdx.x);
  const int y = static_cast<int>(threadIdx.y);
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t matrix = t / (row_tiles * col_tiles);
    const int64_t first_row = (t / col_tiles) % row_tiles * kTile;
    const int64_t first_col = t % col_tiles * kTile;
    const Element* source = in + matrix * rows * cols;
    Element* target = out + matrix * rows * cols;
    // Threads along x read consecutive columns of a row of x.
    for (int r = y; r < kTile; r += kTileRowsPerPass) {
      const int64_t row = first_row + r;
      const int64_t col = first_col + x;
      if (row < rows && col < cols) tile[r][x] = source[row * cols + col];
    }
    __syncthreads();
    // Threads along x write consecutive columns of a row of out, i.e. a column of the tile.
    for (int c = y; c < kTile; c += kTileRowsPerPass) {
      const int64_t col = first_col + c;
      const int64_t row = first_row + x;
      if (row < rows && col < cols) target[col * rows + row] = tile[x][c];
    }
    __syncthreads();  // the next tile overwrites this one
  }
}

template <typename Element>
void launch_transpose(const Tensor& x, const Tensor& out, int64_t batch, int64_t rows,
                      int64_t cols) {
  const int64_t tiles = batch * ((rows + kTile - 1) / kTile) * ((cols + kTile - 1) / kTile);
  const auto blocks = static_cast<unsigned int>(std::min(tiles, kMaxTileBlocks));
  transpose_kernel<Element><<<blocks, dim3(kTile, kTileRowsPerPass), 0, stream_for(out)>>>(
      device_data<const Element>(x), device_data<Element>(out), batch, rows, cols);
  HIVE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::transpose(const Tensor& x, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  const int64_t rows = x.size(-2);
  const int64_t cols = x.size(-1);
  if (x.numel() == 0) return;
  const int64_t batch = x.numel() / (rows * cols);
  switch (dtype_size(x.dtype())) {
    case 1: return launch_transpose<uint8_t>(x, out, batch, rows, cols);
    case 2: return launch_transpose<uint16_t>(x, out, batch, rows, cols);
    case 4: return launch_transpose<uint32_t>(x, out, batch, rows, cols);
    case 8: return launch_transpose<uint64_t>(x, out, batch, rows, cols);
    default: HIVE_CHECK(false, "transpose: unexpected element size ", dtype_size(x.dtype()));
  }
}

}  // namespace hive::cuda
