#include "bench/throughput/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include "engine/core/error.h"

namespace hive::throughput {
namespace {

using nlohmann::json;

// GEMM FLOPs per row of an ffn expert of hidden size h: Linear(h, 4h) and Linear(4h, h), 2 FLOPs
// per multiply-add: 2 * 2 * h * 4h = 16 h^2. GELU and LayerNorm are O(h) and left out.
double ffn_forward_flops_per_row(int64_t h) { return 16.0 * static_cast<double>(h) * static_cast<double>(h); }
// A backward call recomputes forward with gradients (the server keeps no activations), then
// backpropagates: the gradients of the inputs and of the weights are two GEMMs per Linear.
constexpr double kBackwardCallInForwards = 3.0;

std::optional<double> server_flops(const RunReport& report) {
  if (report.run.expert_cls != "ffn") return std::nullopt;
  const double per_row = ffn_forward_flops_per_row(report.run.hid_dim);
  return per_row * (static_cast<double>(report.result.forward.rows) +
                    kBackwardCallInForwards * static_cast<double>(report.result.backward.rows));
}

double gemm_peak_gflops(const RunReport& report) {
  return std::max(report.gemm_before.best_gflops, report.gemm_after.best_gflops);
}

json gemm_json(const GemmPeak& g) {
  return {{"m", g.m}, {"k", g.k}, {"n", g.n}, {"repeats", g.repeats},
          {"best_gflops", g.best_gflops}, {"median_gflops", g.median_gflops}};
}

// The share of the machine's cores the server process used while the clients ran.
double server_cpu_share(const RunReport& report) {
  return report.result.server_cpu_s / processing_seconds(report.result) /
         static_cast<double>(report.settings.server_threads);
}

double samples_per_second(const RunReport& report) {
  return static_cast<double>(report.run.total_examples()) / processing_seconds(report.result);
}

double mean_rows(const ServerBatching& b) {
  return b.batches == 0 ? 0.0 : static_cast<double>(b.rows) / static_cast<double>(b.batches);
}

json batching_json(const ServerBatching& b) {
  return {{"batches", b.batches},
          {"calls", b.calls},
          {"rows", b.rows},
          {"mean_calls_per_batch", b.batches == 0 ? 0.0 : static_cast<double>(b.calls) / static_cast<double>(b.batches)},
          {"mean_rows_per_batch", mean_rows(b)},
          {"largest_batch_calls", b.largest_batch_calls}};
}

json parameters_json(const Preset& p) {
  return {{"num_experts", p.num_experts},
          {"num_handlers", p.resolved_num_handlers()},
          {"max_batch_size", p.resolved_max_batch_size()},
          {"expert_cls", p.expert_cls},
          {"hid_dim", p.hid_dim},
          {"num_clients", p.num_clients},
          {"num_batches_per_client", p.num_batches_per_client},
          {"batch_size", p.batch_size},
          {"backprop", p.backprop},
          {"total_examples", p.total_examples()}};
}

}  // namespace

double processing_seconds(const RunResult& result) {
  return result.timestamps.clients_finished - result.timestamps.clients_started;
}

void print_report(const RunReport& report) {
  const Preset& p = report.run;
  const Timestamps& t = report.result.timestamps;
  const double seconds = processing_seconds(report.result);
  std::printf("Benchmark finished, status:%s\n", report.result.failure ? "Failure" : "Success");
  std::printf("Server parameters: num_experts=%lld, num_handlers=%lld, max_batch_size=%lld, expert_cls=%s, "
              "hid_dim=%lld, device=cpu\n",
              static_cast<long long>(p.num_experts), static_cast<long long>(p.resolved_num_handlers()),
              static_cast<long long>(p.resolved_max_batch_size()), p.expert_cls.c_str(),
              static_cast<long long>(p.hid_dim));
  std::printf("Client parameters: num_clients=%lld, num_batches_per_client=%lld, batch_size=%lld, backprop=%s\n",
              static_cast<long long>(p.num_clients), static_cast<long long>(p.num_batches_per_client),
              static_cast<long long>(p.batch_size), p.backprop ? "True" : "False");
  std::printf("Results: \n");
  std::printf("\tServer startup took %.3f s. (%.3f s. experts + %.3f s. networking)\n",
              t.server_ready - t.launched_clients, t.created_experts - t.launched_clients,
              t.server_ready - t.created_experts);
  std::printf("\tProcessed %lld examples in %.3f\n", static_cast<long long>(p.total_examples()), seconds);
  std::printf("\tThroughput for %s passes: %.3f samples / s.\n", p.backprop ? "forward + backward" : "forward",
              samples_per_second(report));
  std::printf("\tBenchmarking took %.3f s.\n", t.server_shutdown_finished);
  if (report.result.failure) {
    std::printf("Note: benchmark code failed, timing/memory results only indicate time till failure!\n");
    std::printf("Failure: %s\n", report.result.failure->c_str());
  }
  std::printf("hive: scale %g of hivemind's preset '%s' (%lld of %lld examples); %lld client processes, "
              "%d server threads\n",
              report.scale, report.full.name.c_str(), static_cast<long long>(p.total_examples()),
              static_cast<long long>(report.full.total_examples()),
              static_cast<long long>(std::min(report.settings.client_processes, p.num_clients)),
              report.settings.server_threads);
  std::printf("hive: clients launched in %.3f s, all ready %.3f s after the start; examples answered: %lld\n",
              t.launched_clients, t.clients_ready, static_cast<long long>(report.result.examples_processed));
  std::printf("hive: server batches: forward %llu (%.1f rows each), backward %llu (%.1f rows each)\n",
              static_cast<unsigned long long>(report.result.forward.batches),
              mean_rows(report.result.forward),
              static_cast<unsigned long long>(report.result.backward.batches),
              mean_rows(report.result.backward));
  if (const auto flops = server_flops(report)) {
    const double gflops = *flops / seconds / 1e9;
    std::printf("hive: server GEMM rate %.1f GFLOP/s = %.0f%% of this machine's sgemm peak %.1f GFLOP/s "
                "(before %.1f, after %.1f)\n",
                gflops, 100 * gflops / gemm_peak_gflops(report), gemm_peak_gflops(report),
                report.gemm_before.best_gflops, report.gemm_after.best_gflops);
  }
  std::printf("hive: the server process used %.2f CPU-seconds per second of the window = %.0f%% of %d cores\n",
              report.result.server_cpu_s / seconds, 100 * server_cpu_share(report), report.settings.server_threads);
  std::printf("hive: the full preset would take about %.0f s here (%lld examples at this rate)\n",
              static_cast<double>(report.full.total_examples()) / samples_per_second(report),
              static_cast<long long>(report.full.total_examples()));
  std::fflush(stdout);
}

json to_json(const RunReport& report) {
  const Timestamps& t = report.result.timestamps;
  const double seconds = processing_seconds(report.result);
  const double rate = samples_per_second(report);
  json flops = nullptr;
  if (const auto total = server_flops(report)) {
    const double gflops = *total / seconds / 1e9;
    flops = {{"formula",
              "GEMM FLOPs only: forward call 16*h^2 per row (Linear(h,4h) + Linear(4h,h), 2 FLOPs per "
              "multiply-add); backward call 3x that (recomputed forward + input and weight gradients)"},
             {"forward_flops_per_row", ffn_forward_flops_per_row(report.run.hid_dim)},
             {"total_flops", *total},
             {"server_gflops", gflops},
             {"gemm_peak_gflops", gemm_peak_gflops(report)},
             {"fraction_of_gemm_peak", gflops / gemm_peak_gflops(report)}};
  }
  return {
      {"status", report.result.failure ? "Failure" : "Success"},
      {"failure", report.result.failure ? json(*report.result.failure) : json(nullptr)},
      {"machine", report.machine},
      {"load_average_before", report.load_before},
      {"load_average_after", report.load_after},
      {"device", "cpu"},
      {"hivemind_parameters", parameters_json(report.full)},
      {"scale", report.scale},
      {"scale_rule", "num_clients and num_batches_per_client each times scale, rounded, at least 1"},
      {"parameters", parameters_json(report.run)},
      {"hive_settings",
       {{"client_processes", std::min(report.settings.client_processes, report.run.num_clients)},
        {"client_threads_per_process", "num_clients spread evenly"},
        {"client_engine_threads", 1},
        {"client_omp_wait_policy", "passive"},
        {"server_engine_threads", report.settings.server_threads},
        {"server_max_wait_ms", report.settings.max_wait_ms},
        {"call_timeout_s", report.settings.timeout_s},
        {"optimizer", "adam lr 1e-3, one step per backward batch"}}},
      {"results",
       {{"server_startup_s", t.server_ready - t.launched_clients},
        {"server_startup_experts_s", t.created_experts - t.launched_clients},
        {"server_startup_networking_s", t.server_ready - t.created_experts},
        {"clients_launch_s", t.launched_clients},
        {"clients_ready_after_start_s", t.clients_ready},
        {"total_examples", report.run.total_examples()},
        {"examples_answered", report.result.examples_processed},
        {"processing_s", seconds},
        {"samples_per_s", rate},
        {"pass", report.run.backprop ? "forward + backward" : "forward"},
        {"benchmarking_s", t.server_shutdown_finished},
        {"slowest_client_process_s", report.result.slowest_client_process_s},
        {"server_cpu_s", report.result.server_cpu_s},
        {"server_cpu_share_of_cores", server_cpu_share(report)},
        {"full_preset_estimate_s", static_cast<double>(report.full.total_examples()) / rate}}},
      {"server_batching", {{"forward", batching_json(report.result.forward)},
                           {"backward", batching_json(report.result.backward)}}},
      {"gemm_peak",
       {{"what", "hive::linear x [m, k] @ W [n, k]^T on the server's threads, best of the repeats"},
        {"before", gemm_json(report.gemm_before)},
        {"after", gemm_json(report.gemm_after)}}},
      {"flops", flops},
  };
}

Status merge_into_file(const std::string& path, const std::string& device, const std::string& name,
                       const json& entry) {
  json document = json::object();
  if (std::ifstream in(path); in) {
    document = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded() || !document.is_object()) {
      return Status::error("'" + path + "' is not a JSON object; move it away or fix it");
    }
  }
  document["benchmark"] =
      "hive_throughput_bench: hivemind's benchmarks/benchmark_throughput.py presets on hive's ExpertServer";
  document["device"] = device;
  document["presets"][name] = entry;
  std::ofstream out(path);
  out << document.dump(2) << "\n";
  if (!out) return Status::error("writing '" + path + "' failed");
  return Status::ok();
}

}  // namespace hive::throughput
