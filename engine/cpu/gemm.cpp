// Matrix products through OpenBLAS (f32). f16 and bf16 operands are widened to f32 scratch
// buffers first: the CPU has no fast half-precision GEMM, and accumulating in f32 is what the GPU
// path does too.
#include <cblas.h>
#include <omp.h>

#include <vector>

#include "engine/core/backward_epilogues.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/parallel.h"

namespace hive {
namespace {

CBLAS_TRANSPOSE to_cblas(Transpose transpose) {
  return transpose == Transpose::kYes ? CblasTrans : CblasNoTrans;
}

template <typename T>
std::vector<float> widen(const Tensor& t) {
  const T* in = static_cast<const T*>(t.raw_data());
  std::vector<float> result(static_cast<size_t>(t.numel()));
  cpu::parallel_for(t.numel(), cpu::kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) result[static_cast<size_t>(i)] = cpu::load(in[i]);
  });
  return result;
}

// OpenBLAS (OpenMP build) sizes its team from the calling thread's OpenMP thread count, which a
// thread that the engine did not start (a server's runtime, a trainer's worker) has at its
// default of every core: bring it to the process-wide budget first.
void apply_thread_budget() {
  const int budget = cpu_threads();
  if (omp_get_max_threads() != budget) omp_set_num_threads(budget);
}

// out = alpha * op(a) op(b) + beta * out (+ bias rows), all f32.
void sgemm_batched(const GemmArgs& args, const float* a, const float* b, float* out,
                   const float* bias) {
  apply_thread_budget();
  const auto m = static_cast<blasint>(args.m);
  const auto n = static_cast<blasint>(args.n);
  const auto k = static_cast<blasint>(args.k);
  // Leading dimensions of the matrices as stored (row-major).
  const blasint lda = args.transpose_a == Transpose::kYes ? m : k;
  const blasint ldb = args.transpose_b == Transpose::kYes ? k : n;
  for (int64_t batch = 0; batch < args.batch; ++batch) {
    float* c = out + batch * args.stride_out;
    float beta = args.beta;
    const bool bias_first = bias != nullptr && beta == 0.0f;
    if (bias_first) {
      // Start from the bias rows and accumulate the product onto them.
      for (int64_t row = 0; row < args.m; ++row) {
        std::copy(bias, bias + args.n, c + row * args.n);
      }
      beta = 1.0f;
    }
    if (args.k == 0) {
      // An empty product: only the beta * out term (and the bias) remain. beta == 0 must not
      // read out, which may hold garbage (BLAS semantics).
      for (int64_t i = 0; i < args.m * args.n; ++i) c[i] = beta == 0.0f ? 0.0f : c[i] * beta;
    } else {
      cblas_sgemm(CblasRowMajor, to_cblas(args.transpose_a), to_cblas(args.transpose_b), m, n, k,
                  args.alpha, a + batch * args.stride_a, lda, b + batch * args.stride_b, ldb,
                  beta, c, n);
    }
    if (bias != nullptr && !bias_first) {
      for (int64_t row = 0; row < args.m; ++row) {
        for (int64_t col = 0; col < args.n; ++col) c[row * args.n + col] += bias[col];
      }
    }
  }
}

}  // namespace

void CpuBackend::gemm(const GemmArgs& args) {
  if (is_backward_epilogue(args.epilogue)) {
    check_backward_epilogue(args);
    // Even an empty out has a bias gradient to write (zeros, or sums over an empty n).
    if (args.m > 0 && args.n > 0) product(args);
    apply_backward_epilogue(*this, args);
    return;
  }
  if (args.m == 0 || args.n == 0) return;
  product(args);
  if (args.epilogue == GemmEpilogue::kGelu) {
    // The same GELU kernel as the unfused op, so linear_gelu and gelu(linear) agree exactly.
    if (args.pre_activation.defined()) copy(args.out, args.pre_activation);
    unary(UnaryOp::kGelu, args.out, args.out);
  }
}

void CpuBackend::product(const GemmArgs& args) {
  if (args.out.dtype() == DType::kF32) {
    sgemm_batched(args, args.a.data<float>(), args.b.data<float>(), args.out.data<float>(),
                  args.bias.defined() ? args.bias.data<float>() : nullptr);
    return;
  }
  dispatch_floating(args.out.dtype(), [&]<typename T>() {
    const std::vector<float> a = widen<T>(args.a);
    const std::vector<float> b = widen<T>(args.b);
    std::vector<float> out = args.beta != 0.0f ? widen<T>(args.out)
                                               : std::vector<float>(static_cast<size_t>(args.out.numel()));
    std::vector<float> bias;
    if (args.bias.defined()) bias = widen<T>(args.bias);
    sgemm_batched(args, a.data(), b.data(), out.data(), bias.empty() ? nullptr : bias.data());
    T* result = static_cast<T*>(args.out.raw_data());
    for (size_t i = 0; i < out.size(); ++i) result[i] = cpu::store<T>(out[i]);
  });
}

// One problem after another: each OpenBLAS call already spreads over every core.
void CpuBackend::grouped_gemm(std::span<const GemmArgs> problems) {
  for (const GemmArgs& problem : problems) gemm(problem);
}

namespace {

// Element is an unsigned integer as wide as the dtype: transposing only moves bytes.
template <typename Element>
void transpose_batched(const Element* in, Element* out, int64_t batch, int64_t rows, int64_t cols) {
  constexpr int64_t kBlock = 32;  // square tiles keep both the reads and the writes cache-local
  const int64_t row_blocks = (rows + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, cpu::kElementwiseGrain / (kBlock * cols));
  cpu::parallel_for(batch * row_blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t row_begin = (task % row_blocks) * kBlock;
      const int64_t row_end = std::min(rows, row_begin + kBlock);
      const Element* source = in + (task / row_blocks) * rows * cols;
      Element* target = out + (task / row_blocks) * rows * cols;
      for (int64_t col_begin = 0; col_begin < cols; col_begin += kBlock) {
        const int64_t col_end = std::min(cols, col_begin + kBlock);
        for (int64_t r = row_begin; r < row_end; ++r) {
          for (int64_t c = col_begin; c < col_end; ++c) target[c * rows + r] = source[r * cols + c];
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::transpose(const Tensor& x, const Tensor& out) {
  const int64_t rows = x.size(-2);
  const int64_t cols = x.size(-1);
  if (rows == 0 || cols == 0) return;
  const int64_t batch = x.numel() / (rows * cols);
  switch (dtype_size(x.dtype())) {
    case 1:
      return transpose_batched(static_cast<const uint8_t*>(x.raw_data()),
                               static_cast<uint8_t*>(out.raw_data()), batch, rows, cols);
    case 2:
      return transpose_batched(static_cast<const uint16_t*>(x.raw_data()),
                               static_cast<uint16_t*>(out.raw_data()), batch, rows, cols);
    case 4:
      return transpose_batched(static_cast<const uint32_t*>(x.raw_data()),
                               static_cast<uint32_t*>(out.raw_data()), batch, rows, cols);
    case 8:
      return transpose_batched(static_cast<const uint64_t*>(x.raw_data()),
                               static_cast<uint64_t*>(out.raw_data()), batch, rows, cols);
    default:
      HIVE_CHECK(false, "transpose: unexpected element size ", dtype_size(x.dtype()));
  }
}

}  // namespace hive
