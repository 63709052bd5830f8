// GPU benchmarks of the engine on Device::cuda(0): the limits of the device measured in the same
// run (a large bf16 GEMM, an f32 GEMM, a device-to-device copy), then the ops an expert server
// and a trainer spend their time in (linear, layer_norm, softmax, cross_entropy, AdamW, the
// gating top-k, MoE dispatch and combine, the 64 experts' FFN as grouped GEMMs, multi-head
// attention) and a local 64-expert MoE layer, forward and backward.
//
// bench/gpu/torch_reference.py runs the very same cases in PyTorch under the same names, and
// bench/gpu/make_report.py puts both side by side with each case's fraction of the measured
// limits; a case here and its twin there must compute the same thing on the same shapes, so
// change both together (bench/README.md, "GPU kernels", lists them).
//
// GPU work is asynchronous: every timed iteration ends with hive::cuda::synchronize, so an
// iteration is the wall-clock time until the device has finished it (UseRealTime). Every case
// runs once untimed first (the caching allocator's first allocations, cuBLASLt's algorithm
// choice). A case whose op throws (for example an op the CUDA backend cannot run yet) is
// reported as an error and the others still run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda.h"
#include "engine/core/random.h"
#include "engine/nn/ffn_expert.h"
#include "engine/nn/mixture_of_experts.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"

namespace {

constexpr uint64_t kSeed = 2020;

hive::Device gpu() { return hive::Device::cuda(0); }

double as_double(int64_t value) { return static_cast<double>(value); }

// FLOPs of out [m, n] = a [m, k] @ b [k, n]: one multiply and one add per term.
double gemm_flops(int64_t m, int64_t k, int64_t n) {
  return 2.0 * as_double(m) * as_double(k) * as_double(n);
}

// Backward runs two GEMMs per forward GEMM: the gradients of the input and of the weight.
double with_backward(double forward_flops) { return 3.0 * forward_flops; }

double element_bytes(int64_t elements, hive::DType dtype) {
  return as_double(elements) * static_cast<double>(hive::dtype_size(dtype));
}

// Work of one iteration, reported as rates over the measured time: "FLOPS" (as engine_bench)
// for GEMM-bound cases, "GB/s" (10^9 bytes, as net_bench) for memory-bound ones.
void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOPS"] =
      benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

void set_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// One untimed pass, then the timed ones; each ends when the GPU has finished its work.
template <typename Pass>
void time_passes(benchmark::State& state, const Pass& pass) {
  pass();
  hive::cuda::synchronize(gpu());
  for (auto _ : state) {
    pass();
    hive::cuda::synchronize(gpu());
  }
}

// Runs a case; an exception (an op the backend lacks, out of memory) becomes the case's error
// in the report instead of ending the whole run.
template <typename Case>
void guarded(benchmark::State& state, const Case& run_case) {
  try {
    run_case();
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
  }
}

hive::Tensor random_on_gpu(const hive::Shape& shape, hive::Generator& generator,
                           hive::DType dtype) {
  return hive::Tensor::randn(shape, generator, dtype, gpu());
}

// SplitMix64's output function: the routing below draws from it so that torch_reference.py can
// draw the very same numbers.
uint64_t splitmix64(uint64_t counter) {
  uint64_t z = counter + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The expert choices (i64 [tokens, k], CPU) of a router that favours some experts, as trained
// routers do: each draw u, uniform in [0, 1) from splitmix64 of consecutive counters from
// kSeed, picks expert floor(experts * u^2), so expert 0 gets about 16 times the pairs of expert
// 63 of 64; a token redraws until its k experts are distinct. torch_reference.py's
// skewed_routing() computes the same indices.
hive::Tensor skewed_routing(int64_t tokens, int64_t experts, int64_t k) {
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(tokens * k));
  uint64_t counter = kSeed;
  for (int64_t token = 0; token < tokens; ++token) {
    const auto first = static_cast<std::ptrdiff_t>(indices.size());
    while (static_cast<int64_t>(indices.size()) - first < k) {
      const double u = static_cast<double>(splitmix64(counter++) >> 11) * 0x1.0p-53;
      const auto expert = std::min(experts - 1, static_cast<int64_t>(as_double(experts) * u * u));
      if (std::find(indices.begin() + first, indices.end(), expert) == indices.end()) {
        indices.push_back(expert);
      }
    }
  }
  return hive::Tensor::from_vector(indices, hive::Shape{tokens, k});
}

// --- Limits of the device, measured in the same run ---------------------------------------------

// out [n, n] = a [n, n] @ b [n, n]: large enough that the GEMM runs at the tensor cores' rate
// (bf16 at n = 8192 is the peak the compute-bound cases are compared with).
void MatmulPeak(benchmark::State& state, hive::DType dtype, int64_t n) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor a = random_on_gpu(hive::Shape{n, n}, generator, dtype);
    const hive::Tensor b = random_on_gpu(hive::Shape{n, n}, generator, dtype);
    time_passes(state, [&] { benchmark::DoNotOptimize(hive::matmul(a, b)); });
    set_flops(state, gemm_flops(n, n, n));
  });
}

// dst.copy_from(src) of `bytes` bytes on one device (cudaMemcpyAsync device to device): the copy
// bandwidth the memory-bound cases are compared with. Bytes count the read and the write.
void DeviceCopy(benchmark::State& state, int64_t bytes) {
  guarded(state, [&] {
    const hive::DType dtype = hive::DType::kBF16;
    const auto elements = bytes / static_cast<int64_t>(hive::dtype_size(dtype));
    const hive::Tensor src = hive::Tensor::full(hive::Shape{elements}, 1.0, dtype, gpu());
    const hive::Tensor dst = hive::Tensor::empty(hive::Shape{elements}, dtype, gpu());
    time_passes(state, [&] { dst.copy_from(src); });
    set_bytes(state, 2.0 * element_bytes(elements, dtype));
  });
}

// --- Ops ----------------------------------------------------------------------------------------

// linear(x [rows, in], W [out, in], b [out]) -> [rows, out], forward only (nothing requires grad).
void LinearForward(benchmark::State& state, hive::DType dtype, int64_t rows, int64_t in,
                   int64_t out) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, in}, generator, dtype);
    const hive::Tensor weight = random_on_gpu(hive::Shape{out, in}, generator, dtype);
    const hive::Tensor bias = random_on_gpu(hive::Shape{out}, generator, dtype);
    time_passes(state, [&] { benchmark::DoNotOptimize(hive::linear(x, weight, bias)); });
    state.SetItemsProcessed(state.iterations() * rows);
    set_flops(state, gemm_flops(rows, in, out));
  });
}

// The same linear with x, W and b requiring grad: drop the gradients, forward, backward of a
// fixed random output gradient (dx = dy W, dW = dy^T x, db = column sums of dy).
void LinearForwardBackward(benchmark::State& state, hive::DType dtype, int64_t rows, int64_t in,
                           int64_t out) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, in}, generator, dtype);
    const hive::Tensor weight = random_on_gpu(hive::Shape{out, in}, generator, dtype);
    const hive::Tensor bias = random_on_gpu(hive::Shape{out}, generator, dtype);
    const hive::Tensor probe = random_on_gpu(hive::Shape{rows, out}, generator, dtype);
    for (const hive::Tensor* leaf : {&x, &weight, &bias}) {
      leaf->set_requires_grad(hive::RequiresGrad::kYes);
    }
    time_passes(state, [&] {
      for (const hive::Tensor* leaf : {&x, &weight, &bias}) leaf->zero_grad();
      hive::linear(x, weight, bias).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * rows);
    set_flops(state, with_backward(gemm_flops(rows, in, out)));
  });
}

// feed_forward(x [rows, in], W1 [hidden, in], b1, W2 [in, hidden], b2): linear -> GELU -> linear
// as one op (the ffn expert's block without its residual and norm), everything requiring grad,
// forward and backward of a fixed random output gradient. The backward's products carry the
// GELU's derivative and both bias gradients as cuBLASLt epilogues (DGELU_BGRAD, BGRADB).
void FeedForwardForwardBackward(benchmark::State& state, hive::DType dtype, int64_t rows,
                                int64_t in, int64_t hidden) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, in}, generator, dtype);
    const hive::Tensor w1 = random_on_gpu(hive::Shape{hidden, in}, generator, dtype);
    const hive::Tensor b1 = random_on_gpu(hive::Shape{hidden}, generator, dtype);
    const hive::Tensor w2 = random_on_gpu(hive::Shape{in, hidden}, generator, dtype);
    const hive::Tensor b2 = random_on_gpu(hive::Shape{in}, generator, dtype);
    const hive::Tensor probe = random_on_gpu(hive::Shape{rows, in}, generator, dtype);
    for (const hive::Tensor* leaf : {&x, &w1, &b1, &w2, &b2}) {
      leaf->set_requires_grad(hive::RequiresGrad::kYes);
    }
    time_passes(state, [&] {
      for (const hive::Tensor* leaf : {&x, &w1, &b1, &w2, &b2}) leaf->zero_grad();
      hive::feed_forward(x, w1, b1, w2, b2).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * rows);
    set_flops(state, with_backward(2.0 * gemm_flops(rows, in, hidden)));
  });
}

// layer_norm over the last axis of x [rows, features] (weight 1, bias 0, eps 1e-5), forward only.
// Bytes: read x, write out (the [features] parameters and f32 [rows] statistics are not counted).
void LayerNormForward(benchmark::State& state, hive::DType dtype, int64_t rows, int64_t features) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, features}, generator, dtype);
    const hive::Tensor weight = hive::Tensor::ones(hive::Shape{features}, dtype, gpu());
    const hive::Tensor bias = hive::Tensor::zeros(hive::Shape{features}, dtype, gpu());
    time_passes(state, [&] { benchmark::DoNotOptimize(hive::layer_norm(x, weight, bias)); });
    state.SetItemsProcessed(state.iterations() * rows);
    set_bytes(state, 2.0 * element_bytes(rows * features, dtype));
  });
}

// The same with x, weight and bias requiring grad, backward of a fixed random output gradient.
// Bytes: forward 2 (read x, write out) + backward 3 (read grad_out and x, write grad_x) tensors.
void LayerNormForwardBackward(benchmark::State& state, hive::DType dtype, int64_t rows,
                              int64_t features) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, features}, generator, dtype);
    const hive::Tensor weight = hive::Tensor::ones(hive::Shape{features}, dtype, gpu());
    const hive::Tensor bias = hive::Tensor::zeros(hive::Shape{features}, dtype, gpu());
    const hive::Tensor probe = random_on_gpu(hive::Shape{rows, features}, generator, dtype);
    for (const hive::Tensor* leaf : {&x, &weight, &bias}) {
      leaf->set_requires_grad(hive::RequiresGrad::kYes);
    }
    time_passes(state, [&] {
      for (const hive::Tensor* leaf : {&x, &weight, &bias}) leaf->zero_grad();
      hive::layer_norm(x, weight, bias).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * rows);
    set_bytes(state, 5.0 * element_bytes(rows * features, dtype));
  });
}

// softmax over the last axis of x [rows, classes] (x requires grad), backward of a fixed random
// output gradient. Bytes: forward 2 (read x, write y) + backward 3 (read y and grad_y, write
// grad_x) tensors.
void SoftmaxForwardBackward(benchmark::State& state, hive::DType dtype, int64_t rows,
                            int64_t classes) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, classes}, generator, dtype);
    const hive::Tensor probe = random_on_gpu(hive::Shape{rows, classes}, generator, dtype);
    x.set_requires_grad(hive::RequiresGrad::kYes);
    time_passes(state, [&] {
      x.zero_grad();
      hive::softmax(x, -1).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * rows);
    set_bytes(state, 5.0 * element_bytes(rows * classes, dtype));
  });
}

// cross_entropy(logits [rows, classes], labels i64 [rows]) -> mean loss, backward from the loss
// (the vocabulary-sized classifier of a language model's last layer). Bytes: forward reads the
// logits once, backward reads them and writes grad_logits. The op also checks every label's
// range, which copies the labels to the host.
void CrossEntropyForwardBackward(benchmark::State& state, hive::DType dtype, int64_t rows,
                                 int64_t classes) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor logits = random_on_gpu(hive::Shape{rows, classes}, generator, dtype);
    std::vector<int64_t> label_values(static_cast<size_t>(rows));
    for (int64_t& label : label_values) {
      label = static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(classes)));
    }
    const hive::Tensor labels =
        hive::Tensor::from_vector(label_values, hive::Shape{rows}).to(gpu());
    logits.set_requires_grad(hive::RequiresGrad::kYes);
    time_passes(state, [&] {
      logits.zero_grad();
      hive::cross_entropy(logits, labels).backward();
    });
    state.SetItemsProcessed(state.iterations() * rows);
    set_bytes(state, 3.0 * element_bytes(rows * classes, dtype));
  });
}

// One AdamW step (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01) over `tensors` f32
// parameters of [1000, 1000] each, with fixed random gradients. Memory-bound: per parameter it
// reads param, grad, exp_avg, exp_avg_sq and writes three of them back (7 x 4 bytes).
void AdamStep(benchmark::State& state, int64_t tensors) {
  guarded(state, [&] {
    constexpr int64_t kSide = 1000;
    hive::Generator generator(kSeed);
    hive::nn::NamedTensors params;
    for (int64_t i = 0; i < tensors; ++i) {
      const hive::Tensor param =
          random_on_gpu(hive::Shape{kSide, kSide}, generator, hive::DType::kF32);
      param.set_requires_grad(hive::RequiresGrad::kYes);
      param.set_grad(random_on_gpu(param.shape(), generator, hive::DType::kF32));
      params.emplace_back("param." + std::to_string(i), param);
    }
    hive::optim::AdamOptions options;
    options.lr = 1e-3f;
    options.beta1 = 0.9f;
    options.beta2 = 0.999f;
    options.eps = 1e-8f;
    options.weight_decay = 0.01f;
    hive::optim::AdamW optimizer(std::move(params), options);
    time_passes(state, [&] { optimizer.step(); });
    const int64_t elements = tensors * kSide * kSide;
    state.SetItemsProcessed(state.iterations() * elements);
    set_bytes(state, 7.0 * element_bytes(elements, hive::DType::kF32));
  });
}

// The MoE gate's top-k: scores [rows, experts] f32 -> the k best per row (values and i64
// indices). Bytes: the scores read, values and indices written. Far too small to fill an H100:
// this measures the kernel's launch and latency.
void TopK(benchmark::State& state, int64_t rows, int64_t experts, int64_t k) {
  guarded(state, [&] {
    hive::Generator generator(kSeed);
    const hive::Tensor scores =
        random_on_gpu(hive::Shape{rows, experts}, generator, hive::DType::kF32);
    time_passes(state, [&] { benchmark::DoNotOptimize(hive::topk(scores, k)); });
    state.SetItemsProcessed(state.iterations() * rows);
    set_bytes(state, element_bytes(rows * experts, hive::DType::kF32) +
                         element_bytes(rows * k, hive::DType::kF32) +
                         element_bytes(rows * k, hive::DType::kI64));
  });
}

// An MoE layer's data movement without the experts: moe_dispatch (x [tokens, d_model] -> the
// tokens * k grouped rows) then moe_combine (weighted sum of each token's k rows), bf16, forward
// only, on the skewed routing's plan (made once, outside the timed loop). Bytes: dispatch reads
// and writes tokens * k rows, combine reads tokens * k rows and writes tokens rows.
void MoeDispatchCombine(benchmark::State& state, int64_t tokens, int64_t d_model, int64_t experts,
                        int64_t k) {
  guarded(state, [&] {
    const hive::DType dtype = hive::DType::kBF16;
    hive::Generator generator(kSeed);
    const hive::MoePlan plan = hive::moe_plan(skewed_routing(tokens, experts, k).to(gpu()), experts);
    const hive::Tensor x = random_on_gpu(hive::Shape{tokens, d_model}, generator, dtype);
    const hive::Tensor weights = random_on_gpu(hive::Shape{tokens, k}, generator, dtype);
    time_passes(state, [&] {
      benchmark::DoNotOptimize(hive::moe_combine(hive::moe_dispatch(x, plan), weights, plan));
    });
    state.SetItemsProcessed(state.iterations() * tokens);
    set_bytes(state, element_bytes((3 * k + 1) * tokens * d_model, dtype));
  });
}

// The experts' feed-forward layers of an MoE, all at once: x [tokens * k, d_model] already in
// grouped order (the skewed routing's group sizes, uneven), grouped_linear up to d_ff with
// biases, gelu, grouped_linear back down with biases; then backward of a fixed random probe. x,
// every weight and every bias require grad. bf16. FLOPs: the two grouped GEMMs, times 3 for
// backward (bias gradients and gelu not counted).
void GroupedFfnForwardBackward(benchmark::State& state, int64_t tokens, int64_t d_model,
                               int64_t d_ff, int64_t experts, int64_t k) {
  guarded(state, [&] {
    const hive::DType dtype = hive::DType::kBF16;
    hive::Generator generator(kSeed);
    const std::vector<int64_t> group_rows =
        hive::moe_plan(skewed_routing(tokens, experts, k).to(gpu()), experts).expert_counts;
    const int64_t rows = tokens * k;
    const hive::Tensor x = random_on_gpu(hive::Shape{rows, d_model}, generator, dtype);
    std::vector<hive::Tensor> up_weights, up_biases, down_weights, down_biases;
    for (int64_t e = 0; e < experts; ++e) {
      up_weights.push_back(random_on_gpu(hive::Shape{d_ff, d_model}, generator, dtype));
      up_biases.push_back(random_on_gpu(hive::Shape{d_ff}, generator, dtype));
      down_weights.push_back(random_on_gpu(hive::Shape{d_model, d_ff}, generator, dtype));
      down_biases.push_back(random_on_gpu(hive::Shape{d_model}, generator, dtype));
    }
    const hive::Tensor probe = random_on_gpu(hive::Shape{rows, d_model}, generator, dtype);
    std::vector<hive::Tensor> leaves{x};
    for (const auto* group : {&up_weights, &up_biases, &down_weights, &down_biases}) {
      leaves.insert(leaves.end(), group->begin(), group->end());
    }
    for (const hive::Tensor& leaf : leaves) leaf.set_requires_grad(hive::RequiresGrad::kYes);
    time_passes(state, [&] {
      for (const hive::Tensor& leaf : leaves) leaf.zero_grad();
      const hive::Tensor hidden =
          hive::gelu(hive::grouped_linear(x, group_rows, up_weights, up_biases));
      hive::grouped_linear(hidden, group_rows, down_weights, down_biases).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * rows);
    set_flops(state, with_backward(2.0 * gemm_flops(rows, d_model, d_ff)));
  });
}

// Multi-head self-attention's core: scaled_dot_product_attention of q, k, v [b, s, heads, d]
// (scale 1/sqrt(d), no key bias), then backward of a fixed random probe; q, k and v require
// grad. bf16 (hive's general path: cuBLAS products over materialized scores). FLOPs as
// flash attention counts them: 4 b heads s^2 d forward (Q K^T and P V), 2.5 times that backward
// (S recomputed, dV, dP, dQ, dK).
void AttentionForwardBackward(benchmark::State& state, int64_t batch, int64_t sequence,
                              int64_t heads, int64_t head_size) {
  guarded(state, [&] {
    const hive::DType dtype = hive::DType::kBF16;
    hive::Generator generator(kSeed);
    const hive::Shape shape{batch, sequence, heads, head_size};
    const hive::Tensor q = random_on_gpu(shape, generator, dtype);
    const hive::Tensor k = random_on_gpu(shape, generator, dtype);
    const hive::Tensor v = random_on_gpu(shape, generator, dtype);
    const hive::Tensor probe = random_on_gpu(shape, generator, dtype);
    for (const hive::Tensor& leaf : {q, k, v}) leaf.set_requires_grad(hive::RequiresGrad::kYes);
    const auto scale = static_cast<float>(1.0 / std::sqrt(as_double(head_size)));
    time_passes(state, [&] {
      for (const hive::Tensor& leaf : {q, k, v}) leaf.zero_grad();
      hive::scaled_dot_product_attention(q, k, v, hive::Tensor(), scale).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * batch * sequence);
    const double forward_flops =
        4.0 * as_double(batch) * as_double(heads) * as_double(sequence) * as_double(sequence) *
        as_double(head_size);
    set_flops(state, 3.5 * forward_flops);
  });
}

// nn::MixtureOfExperts on an 8 x 8 grid of FeedForwardExpert(d_model) (d_ff = 4 d_model), k = 2:
// gating linear, fused top-2 with softmax over the chosen (grid_topk), rows grouped by expert
// (moe_dispatch), all experts at once (nn::forward_grouped: grouped GEMMs, one GELU, one layer
// norm), weighted sums back into row order (moe_combine); then backward of a fixed random output
// gradient. x requires grad. f32: with bf16 inputs the layers would compute in bf16 against f32
// master weights (their parameters cast in a few multi-tensor launches), a case of its own still
// to add.
// FLOPs: the experts' two GEMMs for tokens * k rows, times 3 for backward (the gate's
// [d_model -> 16] GEMM, GELU, LayerNorm, dispatch and combine are not counted).
void LocalMoeForwardBackward(benchmark::State& state, int64_t tokens, int64_t d_model,
                             int64_t grid_side, int64_t k) {
  guarded(state, [&] {
    const int64_t d_ff = 4 * d_model;
    hive::Generator generator(kSeed);
    hive::nn::MoeConfig config;
    config.in_features = d_model;
    config.grid = {grid_side, grid_side};
    config.k = k;
    hive::nn::MixtureOfExperts moe(
        config,
        [d_model](int64_t, hive::Generator& expert_generator) {
          return std::make_shared<hive::nn::FeedForwardExpert>(d_model, expert_generator);
        },
        generator);
    moe.to(gpu());
    const hive::Shape shape{tokens, d_model};
    const hive::Tensor x = random_on_gpu(shape, generator, hive::DType::kF32);
    const hive::Tensor probe = random_on_gpu(shape, generator, hive::DType::kF32);
    x.set_requires_grad(hive::RequiresGrad::kYes);
    time_passes(state, [&] {
      moe.zero_grad();
      x.zero_grad();
      moe.forward(x).backward(probe);
    });
    state.SetItemsProcessed(state.iterations() * tokens);
    set_flops(state, with_backward(2.0 * gemm_flops(tokens * k, d_model, d_ff)));
  });
}

// Registers every case under the name torch_reference.py gives its twin. Sizes keep each case
// under ~10 GiB of device memory (the largest: the MoE's 64 experts, 537M f32 parameters, their
// gradients and activations).
void register_cases() {
  using hive::DType;
  using benchmark::State;
  const auto add = [](const std::string& case_name, benchmark::TimeUnit unit, auto&& run_case) {
    benchmark::RegisterBenchmark(case_name.c_str(), run_case)->UseRealTime()->Unit(unit);
  };
  constexpr auto kMs = benchmark::kMillisecond;
  add("MatmulPeak/dtype:bf16/n:8192", kMs, [](State& s) { MatmulPeak(s, DType::kBF16, 8192); });
  add("MatmulPeak/dtype:f32/n:4096", kMs, [](State& s) { MatmulPeak(s, DType::kF32, 4096); });
  add("DeviceCopy/mib:1024", kMs, [](State& s) { DeviceCopy(s, int64_t{1} << 30); });
  for (const DType dtype : {DType::kF32, DType::kBF16}) {
    const std::string tag = "/dtype:" + std::string(hive::dtype_name(dtype));
    add("LinearForward" + tag + "/rows:16384/in:1024/out:4096", kMs,
        [dtype](State& s) { LinearForward(s, dtype, 16384, 1024, 4096); });
    add("LinearForwardBackward" + tag + "/rows:16384/in:1024/out:4096", kMs,
        [dtype](State& s) { LinearForwardBackward(s, dtype, 16384, 1024, 4096); });
    add("FeedForwardForwardBackward" + tag + "/rows:16384/in:1024/hidden:4096", kMs,
        [dtype](State& s) { FeedForwardForwardBackward(s, dtype, 16384, 1024, 4096); });
    add("LayerNormForward" + tag + "/rows:16384/features:1024", kMs,
        [dtype](State& s) { LayerNormForward(s, dtype, 16384, 1024); });
    add("LayerNormForwardBackward" + tag + "/rows:16384/features:1024", kMs,
        [dtype](State& s) { LayerNormForwardBackward(s, dtype, 16384, 1024); });
  }
  add("SoftmaxForwardBackward/dtype:f32/rows:8192/classes:32000", kMs,
      [](State& s) { SoftmaxForwardBackward(s, DType::kF32, 8192, 32000); });
  add("CrossEntropyForwardBackward/dtype:f32/rows:8192/classes:32000", kMs,
      [](State& s) { CrossEntropyForwardBackward(s, DType::kF32, 8192, 32000); });
  add("AdamStep/tensors:100/numel:100000000", kMs, [](State& s) { AdamStep(s, 100); });
  add("TopK/rows:16384/experts:64/k:2", benchmark::kMicrosecond,
      [](State& s) { TopK(s, 16384, 64, 2); });
  add("MoeDispatchCombine/dtype:bf16/tokens:16384/d_model:1024/experts:64/k:2", kMs,
      [](State& s) { MoeDispatchCombine(s, 16384, 1024, 64, 2); });
  add("GroupedFfnForwardBackward/dtype:bf16/tokens:16384/d_model:1024/d_ff:4096/experts:64/k:2",
      kMs, [](State& s) { GroupedFfnForwardBackward(s, 16384, 1024, 4096, 64, 2); });
  add("AttentionForwardBackward/dtype:bf16/batch:8/seq:1024/heads:16/head_dim:64", kMs,
      [](State& s) { AttentionForwardBackward(s, 8, 1024, 16, 64); });
  add("LocalMoeForwardBackward/dtype:f32/tokens:16384/d_model:1024/d_ff:4096/experts:64/k:2", kMs,
      [](State& s) { LocalMoeForwardBackward(s, 16384, 1024, 8, 2); });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (hive::cuda::device_count() == 0) {
    std::cerr << "cuda_kernels_bench: no CUDA device\n";
    return 0;
  }
  try {
    hive::cuda::register_backend();
    // Which GPU the numbers belong to; make_report.py names its output file after it.
    benchmark::AddCustomContext("device", hive::cuda::describe_device(0));
  } catch (const std::exception& error) {
    std::cerr << "cuda_kernels_bench: " << error.what() << "\n";
    return 1;
  }
  register_cases();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
