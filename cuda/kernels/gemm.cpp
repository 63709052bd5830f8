// Matrix products through cuBLASLt: f32, f16 and bf16 operands, always accumulated in f32
// (CUBLAS_COMPUTE_32F, never TF32), so results agree with the CPU backend's f32 BLAS to rounding.
//
// Tensors are row-major and cuBLASLt is column-major. A row-major [rows, cols] matrix read
// column-major is its transpose, [cols, rows] with leading dimension cols; so out = op(a) op(b)
// is computed as out^T = op(b)^T op(a)^T: cuBLASLt's A is our b, its B is our a, m and n swap,
// and the bias (one value per column of out) runs along the rows of out^T, which is what
// CUBLASLT_EPILOGUE_BIAS adds. The GELU epilogue (GemmEpilogue::kGelu) is cuBLASLt's
// GELU[_AUX][_BIAS], whose aux matrix, the GELU's input kept for the backward, has out's layout.
//
// The backward epilogues, in that swapped view (cuBLASLt's D = out^T is [n, m], its B = our a):
// - kBiasGradient wants bias_grad[i] = sum_k op(a)[i, k] for i in [0, m). cuBLASLt's
//   op(B) = op(a)^T is [k, m], and BGRADB sums op(B) over k into one value per column of D,
//   and D has m columns: BGRADB is exactly it. (BGRADA would sum our b, into n values.)
// - kGeluBackwardBiasGradient wants bias_grad[j] = sum_i out[i, j] for j in [0, n): one value
//   per row of D summed along D's m columns, which is what DGELU_BGRAD writes (its bias
//   gradient has the forward bias's layout, one value per row of D: the bias we add is [n]).
//   Its aux input, the pre-activation, has out's layout, as GELU_AUX wrote it.
// Both put the gradient where the bias pointer goes, in out's dtype.
//
// The algorithm heuristic costs more than a small product, so the operand layouts and the chosen
// algorithm are cached per problem; the matmul descriptor, which holds the bias pointer, is made
// per call (host memory only), so a cached plan is never written after it is built and threads
// can share it.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <compare>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cuda/cuda_backend.h"
#include "cuda/kernels/blas_types.h"
#include "cuda/kernels/blaslt_handles.h"
#include "cuda/runtime/check.h"
#include "cuda/runtime/device_guard.h"
#include "cuda/runtime/device_memory.h"
#include "cuda/runtime/stream_slots.h"
#include "engine/core/backward_epilogues.h"
#include "engine/core/error.h"

namespace hive::cuda {
namespace {

// cuBLASLt assumes 256-byte aligned operands unless told otherwise.
constexpr uint32_t kMaxAlignment = 256;

// Everything the layouts and the choice of algorithm depend on.
struct ProductKey {
  int device = 0;
  DType dtype = DType::kF32;
  Transpose transpose_a = Transpose::kNo;
  Transpose transpose_b = Transpose::kNo;
  int64_t batch = 1;
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  int64_t stride_a = 0;  // in elements; all 0 when batch == 1
  int64_t stride_b = 0;
  int64_t stride_out = 0;
  bool has_bias = false;
  bool gelu = false;            // GELU epilogue
  bool has_pre_activation = false;  // ...which also stores its input (the aux matrix)
  // A backward epilogue that cuBLASLt runs (kNone when none, or when it falls back); the GELU
  // backward reads the pre-activation as its aux matrix (has_pre_activation).
  GemmEpilogue backward = GemmEpilogue::kNone;
  bool has_bias_grad = false;  // written where the bias pointer goes (align_bias)
  // Byte alignment of every matrix of each operand (a power of two, at most kMaxAlignment): the
  // heuristic then only offers kernels whose vector loads these addresses allow.
  uint32_t align_a = kMaxAlignment;
  uint32_t align_b = kMaxAlignment;
  uint32_t align_out = kMaxAlignment;
  uint32_t align_bias = kMaxAlignment;
  uint32_t align_pre_activation = kMaxAlignment;

  auto operator<=>(const ProductKey&) const = default;
};

struct ProductOperands {
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;
  const void* bias = nullptr;        // null without bias
  void* pre_activation = nullptr;    // null unless a GELU epilogue keeps or reads its input
  void* bias_grad = nullptr;         // null unless a backward epilogue writes it
};

// The largest power of two, up to kMaxAlignment, that divides the address of the first matrix
// and the byte stride to the next ones.
uint32_t alignment_of(const void* data, int64_t stride, size_t element_bytes) {
  const uintptr_t bits = reinterpret_cast<uintptr_t>(data) |
                         static_cast<uintptr_t>(stride) * element_bytes | kMaxAlignment;
  return static_cast<uint32_t>(bits & (~bits + 1));
}

std::string describe_product(const ProductKey& key) {
  return str_cat(key.dtype, " product op(a) [", key.m, ", ", key.k, "] @ op(b) [", key.k, ", ",
                 key.n, "]", key.transpose_a == Transpose::kYes ? " (a transposed)" : "",
                 key.transpose_b == Transpose::kYes ? " (b transposed)" : "", ", batch ",
                 key.batch, " (strides ", key.stride_a, ", ", key.stride_b, ", ", key.stride_out,
                 ")", key.has_bias ? ", with bias" : "", key.gelu ? ", then GELU" : "",
                 key.has_pre_activation ? " with the GELU input" : "",
                 key.backward == GemmEpilogue::kBiasGradient ? ", summing a's bias gradient" : "",
                 key.backward == GemmEpilogue::kGeluBackwardBiasGradient ? ", times GELU'" : "",
                 key.has_bias_grad ? " into a bias gradient" : "", ", alignments ", key.align_a,
                 "/", key.align_b, "/", key.align_out, "/", key.align_bias, "/",
                 key.align_pre_activation, " bytes, on cuda:", key.device);
}

cublasLtEpilogue_t epilogue_of(const ProductKey& key) {
  // Which of BGRADA/BGRADB and over which dimension: see the top of the file.
  if (key.backward == GemmEpilogue::kBiasGradient) return CUBLASLT_EPILOGUE_BGRADB;
  if (key.backward == GemmEpilogue::kGeluBackwardBiasGradient) {
    return key.has_bias_grad ? CUBLASLT_EPILOGUE_DGELU_BGRAD : CUBLASLT_EPILOGUE_DGELU;
  }
  if (!key.gelu) return key.has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  if (key.has_pre_activation) {
    return key.has_bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
  }
  return key.has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
}

// Transposes, epilogue, bias (or bias gradient) and GELU input of the operation, in the swapped (column-major)
// view, where out^T is [n, m] with leading dimension n; the GELU input is laid out as out.
void set_product_attributes(MatmulDesc& desc, const ProductKey& key,
                            const ProductOperands& operands) {
  desc.set(CUBLASLT_MATMUL_DESC_TRANSA, static_cast<int32_t>(to_operation(key.transpose_b)));
  desc.set(CUBLASLT_MATMUL_DESC_TRANSB, static_cast<int32_t>(to_operation(key.transpose_a)));
  desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<uint32_t>(epilogue_of(key)));
  if (key.has_bias) {
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(cuda_type_of(key.dtype)));
    // The bias batch stride stays at its default of 0: every product of the batch adds the same
    // bias, as the CPU backend does.
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, operands.bias);
  }
  if (key.has_bias_grad) {
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(cuda_type_of(key.dtype)));
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, operands.bias_grad);
  }
  if (key.has_pre_activation) {
    desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, operands.pre_activation);
    desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, key.n);
    desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE,
             static_cast<int32_t>(cuda_type_of(key.dtype)));
    if (key.batch > 1) desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE, key.stride_out);
  }
}

// Our row-major matrix stored as [rows, cols], seen column-major: [cols, rows], leading
// dimension cols.
MatrixLayout row_major_layout(DType dtype, int64_t rows, int64_t cols) {
  return MatrixLayout(cuda_type_of(dtype), static_cast<uint64_t>(cols),
                      static_cast<uint64_t>(rows), cols);
}

void set_batch(MatrixLayout& layout, int64_t batch, int64_t stride) {
  if (batch == 1) return;
  layout.set(CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<int32_t>(batch));
  layout.set(CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride);
}

// The layouts of one problem and the algorithm the heuristic chose for it.
struct ProductPlan {
  // Runs the heuristic; the operands only tell it the bias and GELU input pointers' alignment.
  ProductPlan(const ProductKey& key, const ProductOperands& operands)
      : a(row_major_layout(key.dtype, key.transpose_a == Transpose::kYes ? key.k : key.m,
                           key.transpose_a == Transpose::kYes ? key.m : key.k)),
        b(row_major_layout(key.dtype, key.transpose_b == Transpose::kYes ? key.n : key.k,
                           key.transpose_b == Transpose::kYes ? key.k : key.n)),
        out(row_major_layout(key.dtype, key.m, key.n)) {
    set_batch(a, key.batch, key.stride_a);
    set_batch(b, key.batch, key.stride_b);
    set_batch(out, key.batch, key.stride_out);

    MatmulDesc desc(CUBLAS_COMPUTE_32F, CUDA_R_32F);
    set_product_attributes(desc, key, operands);
    MatmulPreference preference;
    preference.set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t{kGemmWorkspaceBytes});
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align_b);  // A is our b
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align_a);
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align_out);
    preference.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align_out);

    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t heuristic_status = cublasLtMatmulAlgoGetHeuristic(
        blas_handle(key.device), desc.get(), b.get(), a.get(), out.get(), out.get(),
        preference.get(), 1, &result, &found);
    // NOT_SUPPORTED means no algorithm fits: run_product decides whether that is an error.
    if (heuristic_status != CUBLAS_STATUS_NOT_SUPPORTED) HIVE_CUBLAS_CHECK(heuristic_status);
    has_algorithm = heuristic_status == CUBLAS_STATUS_SUCCESS && found > 0 &&
                    result.state == CUBLAS_STATUS_SUCCESS;
    algo = result.algo;
    workspace_bytes = result.workspaceSize;
  }

  MatrixLayout a;
  MatrixLayout b;
  MatrixLayout out;  // also C: beta * out is read from where the result goes
  bool has_algorithm = false;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace_bytes = 0;
};

class ProductPlanCache {
 public:
  std::shared_ptr<const ProductPlan> find_or_create(const ProductKey& key,
                                                    const ProductOperands& operands) {
    {
      std::lock_guard lock(mutex_);
      const auto found = plans_.find(key);
      if (found != plans_.end()) return found->second;
    }
    // Outside the lock: the heuristic is slow and threads asking for other plans need not wait.
    // Two threads racing for the same key both build it; the first insertion wins.
    auto plan = std::make_shared<const ProductPlan>(key, operands);
    std::lock_guard lock(mutex_);
    // Shapes can vary without bound (the tokens routed to an expert change every step), so a
    // full cache starts over; plans still in use live on through their shared_ptr.
    if (plans_.size() >= kMaxPlans) plans_.clear();
    return plans_.emplace(key, std::move(plan)).first->second;
  }

 private:
  static constexpr size_t kMaxPlans = 1024;
  std::mutex mutex_;
  std::map<ProductKey, std::shared_ptr<const ProductPlan>> plans_;
};

ProductPlanCache& plan_cache() {
  static ProductPlanCache cache;
  return cache;
}

// What run_product does when cuBLASLt has no algorithm for a problem.
enum class WithoutAlgorithm : uint8_t {
  kFail,         // a caller's problem: reported with its shape
  kReturnFalse,  // a fused backward epilogue, which the caller then runs unfused
};

// Launches the product on the current stream; false (nothing launched) only for
// WithoutAlgorithm::kReturnFalse when cuBLASLt has no algorithm for it.
bool run_product(const ProductKey& key, const ProductOperands& operands, float alpha, float beta,
                 WithoutAlgorithm without_algorithm) {
  const std::shared_ptr<const ProductPlan> plan = plan_cache().find_or_create(key, operands);
  if (!plan->has_algorithm) {
    HIVE_REQUIRE(without_algorithm == WithoutAlgorithm::kReturnFalse,
                 "gemm: cuBLASLt has no algorithm for the ", describe_product(key));
    return false;
  }
  MatmulDesc desc(CUBLAS_COMPUTE_32F, CUDA_R_32F);
  set_product_attributes(desc, key, operands);
  StreamSlot& slot = current_slot(key.device);
  // cuBLASLt's A is our b and its B our a (see the top of the file); C and D are both out.
  HIVE_CUBLAS_CHECK(cublasLtMatmul(blas_handle(key.device), desc.get(), &alpha, operands.b,
                                   plan->b.get(), operands.a, plan->a.get(), &beta, operands.out,
                                   plan->out.get(), operands.out, plan->out.get(), &plan->algo,
                                   slot.gemm_workspace, plan->workspace_bytes, slot.stream));
  return true;
}

// Whether cuBLASLt can run args' backward epilogue inside the product; where it cannot, gemm()
// runs the plain product and then apply_backward_epilogue's kernels. It can when
// - there is a product to run (m, n, k > 0; otherwise out is at most beta * out and the bias
//   gradient comes from zeros or empty sums, which the kernels write),
// - alpha is 1 and beta 0: cuBLASLt documents the gradients of the product alone, and a
//   scaled or accumulated out would leave it unclear what they sum (batch is 1 by contract),
// - for the GELU backward, the aux (pre-activation) leading dimension n is divisible by 8, as
//   CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD requires.
// dtypes (f32, f16, bf16 with f32 accumulation), transposes and alignments go to the heuristic:
// when it offers no algorithm for them, gemm() falls back as well (WithoutAlgorithm).
bool fuses_backward_epilogue(const GemmArgs& args) {
  if (args.m == 0 || args.n == 0 || args.k == 0) return false;
  if (args.alpha != 1.0f || args.beta != 0.0f) return false;
  return args.epilogue != GemmEpilogue::kGeluBackwardBiasGradient || args.n % 8 == 0;
}

ProductKey without_backward_epilogue(ProductKey key) {
  key.backward = GemmEpilogue::kNone;
  key.has_bias_grad = false;
  key.has_pre_activation = false;
  key.align_bias = kMaxAlignment;
  key.align_pre_activation = kMaxAlignment;
  return key;
}

}  // namespace

void CudaBackend::gemm(const GemmArgs& args) {
  const int device = args.out.device().index;
  DeviceGuard guard(device);
  const bool backward = is_backward_epilogue(args.epilogue);
  if (backward) {
    check_backward_epilogue(args);
    // An empty out still has a bias gradient (zeros, or sums over an empty n) to write.
    if (args.m == 0 || args.n == 0) {
      apply_backward_epilogue(*this, args);
      return;
    }
  }
  if (args.batch == 0 || args.m == 0 || args.n == 0) return;
  const DType dtype = args.out.dtype();
  HIVE_CHECK(args.a.dtype() == dtype && args.b.dtype() == dtype &&
                 (!args.bias.defined() || args.bias.dtype() == dtype),
             "gemm: operands of dtypes ", args.a.dtype(), " and ", args.b.dtype(), " into ", dtype);
  HIVE_REQUIRE(args.batch <= std::numeric_limits<int32_t>::max(), "gemm: batch ", args.batch,
               " exceeds cuBLASLt's limit of ", std::numeric_limits<int32_t>::max());
  // Concurrent products of a batch would race on one shared output matrix.
  HIVE_REQUIRE(args.batch == 1 || args.stride_out != 0, "gemm: the CUDA backend cannot write a "
               "batch of ", args.batch, " products into one shared output matrix (stride_out 0)");

  const bool batched = args.batch > 1;
  ProductKey key;
  key.device = device;
  key.dtype = dtype;
  key.transpose_a = args.transpose_a;
  key.transpose_b = args.transpose_b;
  key.batch = args.batch;
  key.m = args.m;
  key.n = args.n;
  key.k = args.k;
  key.stride_a = batched ? args.stride_a : 0;
  key.stride_b = batched ? args.stride_b : 0;
  key.stride_out = batched ? args.stride_out : 0;
  key.has_bias = args.bias.defined();
  // cuBLASLt keeps the GELU input only with a leading dimension and batch stride divisible by 8;
  // other shapes run the product, then the GELU kernel of unary().
  const bool gelu = args.epilogue == GemmEpilogue::kGelu;
  const bool keep_pre_activation = gelu && args.pre_activation.defined();
  const bool fused_gelu =
      gelu && (!keep_pre_activation || (args.n % 8 == 0 && (!batched || args.stride_out % 8 == 0)));
  key.gelu = fused_gelu;
  const bool fused_backward = backward && fuses_backward_epilogue(args);
  key.backward = fused_backward ? args.epilogue : GemmEpilogue::kNone;
  key.has_bias_grad = fused_backward && args.bias_grad.defined();
  key.has_pre_activation = (fused_gelu && keep_pre_activation) ||
                           key.backward == GemmEpilogue::kGeluBackwardBiasGradient;
  ProductOperands operands{args.a.raw_data(), args.b.raw_data(), args.out.raw_data(),
                           key.has_bias ? args.bias.raw_data() : nullptr,
                           key.has_pre_activation ? args.pre_activation.raw_data() : nullptr,
                           key.has_bias_grad ? args.bias_grad.raw_data() : nullptr};
  float alpha = args.alpha;

  const size_t element_bytes = dtype_size(dtype);
  std::shared_ptr<std::byte> zeros;  // released on the stream, after the product has read it
  if (args.k == 0) {
    // An empty product leaves beta * out (+ bias). Rather than rely on cuBLASLt's handling of an
    // empty inner dimension, run a k = 1 product of zero operands (shared by the whole batch)
    // with alpha = 0: the epilogue then applies beta and the bias exactly as for k > 0, and
    // beta == 0 never reads out, which may hold garbage (BLAS semantics, as on the CPU).
    const size_t zero_bytes = static_cast<size_t>(args.m + args.n) * element_bytes;
    zeros = allocate_device_memory(zero_bytes, device);
    HIVE_CUDA_CHECK(cudaMemsetAsync(zeros.get(), 0, zero_bytes, current_stream(device)));
    key.k = 1;
    key.transpose_a = Transpose::kNo;
    key.transpose_b = Transpose::kNo;
    key.stride_a = 0;
    key.stride_b = 0;
    operands.a = zeros.get();  // [m, 1]
    operands.b = zeros.get() + static_cast<size_t>(args.m) * element_bytes;  // [1, n]
    alpha = 0.0f;
  }
  key.align_a = alignment_of(operands.a, key.stride_a, element_bytes);
  key.align_b = alignment_of(operands.b, key.stride_b, element_bytes);
  key.align_out = alignment_of(operands.out, key.stride_out, element_bytes);
  if (key.has_bias) key.align_bias = alignment_of(operands.bias, 0, element_bytes);
  if (key.has_bias_grad) key.align_bias = alignment_of(operands.bias_grad, 0, element_bytes);
  if (key.has_pre_activation) {
    key.align_pre_activation = alignment_of(operands.pre_activation, key.stride_out, element_bytes);
  }
  if (fused_backward &&
      run_product(key, operands, alpha, args.beta, WithoutAlgorithm::kReturnFalse)) {
    return;
  }
  run_product(backward ? without_backward_epilogue(key) : key, operands, alpha, args.beta,
              WithoutAlgorithm::kFail);
  if (backward) apply_backward_epilogue(*this, args);
  if (gelu && !fused_gelu) {
    if (keep_pre_activation) copy(args.out, args.pre_activation);
    unary(UnaryOp::kGelu, args.out, args.out);
  }
}

}  // namespace hive::cuda
