// CPU benchmarks of the engine: one GEMM, the ffn expert block (forward + backward), an AdamW
// step over that block's parameters, and a local 16-expert MoE layer (forward + backward).
//
// bench/compare_torch.py runs the very same cases in PyTorch and compares the times, so a case
// here and its twin there must compute the same thing on the same shapes; change both together.
// Every case does one untimed warm-up run first (page faults of fresh buffers, OpenBLAS's first
// allocation of its work buffers) and is timed in wall-clock time, since the work is spread over
// OpenMP/OpenBLAS threads that the calling thread's CPU time does not see.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/random.h"
#include "engine/cpu/cpu_threads.h"
#include "engine/nn/ffn_expert.h"
#include "engine/nn/mixture_of_experts.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"

namespace {

constexpr uint64_t kSeed = 2020;
constexpr int64_t kExpertsPerRow = 2;
constexpr int64_t kGridSide = 4;  // a 4 x 4 grid: 16 experts

// FLOPs of out [m, n] = a [m, k] @ b [k, n]: one multiply and one add per term.
double gemm_flops(int64_t m, int64_t k, int64_t n) {
  return 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n);
}

// The ffn block's two GEMMs, up [h -> 4h] and down [4h -> h], for `rows` rows. Its elementwise
// work (GELU, bias, residual, LayerNorm) is not counted.
double ffn_forward_flops(int64_t rows, int64_t hidden) {
  return 2.0 * gemm_flops(rows, hidden, 4 * hidden);
}

// Backward runs two GEMMs per forward GEMM: the gradients of the input and of the weight.
double with_backward(double forward_flops) { return 3.0 * forward_flops; }

void set_flops_counter(benchmark::State& state, double flops_per_iteration) {
  const double total = flops_per_iteration * static_cast<double>(state.iterations());
  state.counters["FLOPS"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
}

// out [batch, 4h] = x [batch, h] @ W^T with W [4h, h]: the ffn block's up projection, forward
// only, no bias (a pure GEMM through hive::linear).
void Matmul(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const int64_t hidden = state.range(1);
  hive::Generator generator(kSeed);
  const hive::Tensor x = hive::Tensor::randn(hive::Shape{batch, hidden}, generator);
  const hive::Tensor weight = hive::Tensor::randn(hive::Shape{4 * hidden, hidden}, generator);
  const hive::Tensor no_bias;
  benchmark::DoNotOptimize(hive::linear(x, weight, no_bias));
  for (auto _ : state) {
    benchmark::DoNotOptimize(hive::linear(x, weight, no_bias));
  }
  state.SetItemsProcessed(state.iterations() * batch);
  set_flops_counter(state, gemm_flops(batch, hidden, 4 * hidden));
}

// One training-style pass through FeedForwardExpert: forward, then backward of a fixed random
// output gradient (a probe, so LayerNorm's backward sees realistic values; a plain sum would
// give it an all-equal gradient). The input requires grad, as on an expert server, which must
// send the input gradient back to the trainer. Gradients are dropped before each pass.
void FfnForwardBackward(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const int64_t hidden = state.range(1);
  hive::Generator generator(kSeed);
  hive::nn::FeedForwardExpert ffn(hidden, generator);
  const hive::Tensor x = hive::Tensor::randn(hive::Shape{batch, hidden}, generator);
  x.set_requires_grad(hive::RequiresGrad::kYes);
  const hive::Tensor probe = hive::Tensor::randn(hive::Shape{batch, hidden}, generator);
  const auto pass = [&] {
    ffn.zero_grad();
    x.zero_grad();
    ffn.forward(x).backward(probe);
  };
  pass();
  for (auto _ : state) pass();
  state.SetItemsProcessed(state.iterations() * batch);
  set_flops_counter(state, with_backward(ffn_forward_flops(batch, hidden)));
}

// AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01) over the parameters of one
// ffn block of the given hidden size, with fixed random gradients. Memory-bound: per parameter
// it reads param, grad, exp_avg, exp_avg_sq and writes three of them back.
void AdamStep(benchmark::State& state) {
  const int64_t hidden = state.range(0);
  hive::Generator generator(kSeed);
  hive::nn::FeedForwardExpert ffn(hidden, generator);
  for (const hive::Tensor& param : ffn.parameters()) {
    param.set_grad(hive::Tensor::randn(param.shape(), generator));
  }
  hive::optim::AdamOptions options;
  options.lr = 1e-3f;
  options.beta1 = 0.9f;
  options.beta2 = 0.999f;
  options.eps = 1e-8f;
  options.weight_decay = 0.01f;
  hive::optim::AdamW optimizer(ffn.named_parameters(), options);
  optimizer.step();
  for (auto _ : state) optimizer.step();
  const int64_t params = ffn.parameter_count();
  constexpr int64_t kBytesPerParam = 7 * sizeof(float);
  state.SetItemsProcessed(state.iterations() * params);
  state.SetBytesProcessed(state.iterations() * params * kBytesPerParam);
  state.counters["params"] = static_cast<double>(params);
}

// MixtureOfExperts over a 4 x 4 grid of FeedForwardExpert experts, k = 2: gating linear, fused
// top-2 over the grid scores with softmax over the chosen, rows grouped by expert (moe_dispatch),
// all experts at once through grouped GEMMs (nn::forward_grouped), weighted sums back into row
// order (moe_combine); then backward of a fixed random output gradient.
// The input requires grad, as in a trainer whose MoE layer sits behind other layers.
// grouped: every expert a FeedForwardExpert, so the layer runs them through grouped GEMMs; else
// each sits in a Sequential, which the layer cannot group: one chain of ops per expert, the
// path of any other expert type (LocalMoeForwardBackwardPerExpert, for comparison).
void run_local_moe(benchmark::State& state, bool grouped) {
  const int64_t batch = state.range(0);
  const int64_t hidden = state.range(1);
  hive::Generator generator(kSeed);
  hive::nn::MoeConfig config;
  config.in_features = hidden;
  config.grid = {kGridSide, kGridSide};
  config.k = kExpertsPerRow;
  hive::nn::MixtureOfExperts moe(
      config,
      [hidden, grouped](int64_t, hive::Generator& expert_generator)
          -> std::shared_ptr<hive::nn::UnaryModule> {
        auto expert = std::make_shared<hive::nn::FeedForwardExpert>(hidden, expert_generator);
        if (grouped) return expert;
        auto wrapped = std::make_shared<hive::nn::Sequential>();
        wrapped->add(expert);
        return wrapped;
      },
      generator);
  const hive::Tensor x = hive::Tensor::randn(hive::Shape{batch, hidden}, generator);
  x.set_requires_grad(hive::RequiresGrad::kYes);
  const hive::Tensor probe = hive::Tensor::randn(hive::Shape{batch, hidden}, generator);
  const auto pass = [&] {
    moe.zero_grad();
    x.zero_grad();
    moe.forward(x).backward(probe);
  };
  pass();
  for (auto _ : state) pass();
  state.SetItemsProcessed(state.iterations() * batch);
  // Each row passes through k experts; the gate scores the 2 x 4 grid coordinates.
  set_flops_counter(state, with_backward(gemm_flops(batch, hidden, 2 * kGridSide) +
                                         ffn_forward_flops(batch * kExpertsPerRow, hidden)));
}

void LocalMoeForwardBackward(benchmark::State& state) { run_local_moe(state, true); }
void LocalMoeForwardBackwardPerExpert(benchmark::State& state) { run_local_moe(state, false); }

// Batches 256..4096 at hidden 512 and 1024. The MoE grid leaves out its largest case
// (batch 4096 at hidden 1024: ~3 s a pass on two cores) to keep the suite to a few minutes.
BENCHMARK(Matmul)
    ->ArgNames({"batch", "hidden"})
    ->ArgsProduct({{256, 1024, 4096}, {512, 1024}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(FfnForwardBackward)
    ->ArgNames({"batch", "hidden"})
    ->ArgsProduct({{256, 1024, 4096}, {512, 1024}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(AdamStep)
    ->ArgNames({"hidden"})
    ->Arg(512)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(LocalMoeForwardBackward)
    ->ArgNames({"batch", "hidden"})
    ->Args({256, 512})
    ->Args({1024, 512})
    ->Args({4096, 512})
    ->Args({256, 1024})
    ->Args({1024, 1024})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(LocalMoeForwardBackwardPerExpert)
    ->ArgNames({"batch", "hidden"})
    ->Args({256, 512})
    ->Args({4096, 512})
    ->Args({256, 1024})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // What the comparison needs to know to be fair: how many threads hive's OpenMP loops and
  // OpenBLAS use, and which OpenBLAS kernels run the GEMMs.
  benchmark::AddCustomContext("hive_threads", std::to_string(hive::cpu_threads()));
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("openblas_corename", openblas_get_corename());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
