// hive_throughput_bench: hivemind's benchmarks/benchmark_throughput.py on hive. One server
// process serves the preset's experts (ExpertServer, no DHT: clients address experts directly,
// as hivemind's benchmark does); separate client processes (this program again, in its client
// role) load it with forward (and backward) calls of batch_size random rows to random experts.
// It prints hivemind's result lines, then hive's extras, and records each preset in
// bench/results/throughput_<device>.json.
//
//   hive_throughput_bench --preset default,ffn_forward --scale 0.1
//   hive_throughput_bench --preset nop --num-batches-per-client 4 --json ''
//
// --scale shrinks num_clients and num_batches_per_client (presets.h); everything each call
// carries and computes stays hivemind's. The engine's threads: every core for the server, one
// per client process (which also waits passively: OMP_WAIT_POLICY=passive), so the clients'
// processes do not fight the server for the cores.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/throughput/client_role.h"
#include "bench/throughput/machine_info.h"
#include "bench/throughput/report.h"
#include "engine/core/error.h"
#include "engine/cpu/cpu_threads.h"

namespace hive::throughput {
namespace {

// The absolute path of this binary, which the client processes run.
std::string this_program() {
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  HIVE_REQUIRE(length > 0, "readlink /proc/self/exe failed: cannot start the client processes");
  return std::string(path, static_cast<size_t>(length));
}

// The peak GEMM: the ffn up projection of hivemind's hid_dim, best of a few repeats.
constexpr int64_t kGemmHidden = 1024;
constexpr int kGemmRepeats = 3;

struct ServerFlags {
  std::vector<std::string> presets{"default"};
  int64_t num_batches_per_client = 16;
  double scale = 1;
  int64_t gemm_rows = 4096;
  std::string json_path = HIVE_THROUGHPUT_JSON;
};

int run_server_role(const ServerFlags& flags, RunSettings settings) {
  std::vector<Preset> presets;
  for (const std::string& name : flags.presets) {
    auto preset = hivemind_preset(name, flags.num_batches_per_client);
    if (!preset.is_ok()) {
      std::fprintf(stderr, "hive_throughput_bench: %s\n", preset.message().c_str());
      return 2;
    }
    presets.push_back(std::move(preset).value());
  }
  settings.program = this_program();

  set_cpu_threads(settings.server_threads);

  int exit_code = 0;
  for (const Preset& full : presets) {
    RunReport report{.full = full, .run = scaled(full, flags.scale), .scale = flags.scale,
                     .settings = settings, .machine = machine_info(), .load_before = load_average()};
    std::printf("== preset %s\n", full.name.c_str());
    std::fflush(stdout);
    report.gemm_before = measure_gemm_peak(flags.gemm_rows, kGemmHidden, kGemmRepeats);
    report.result = run_preset(report.run, settings);
    report.load_after = load_average();
    report.gemm_after = measure_gemm_peak(flags.gemm_rows, kGemmHidden, kGemmRepeats);
    print_report(report);
    std::printf("\n");
    if (report.result.failure) exit_code = 1;
    if (!flags.json_path.empty()) {
      if (Status written = merge_into_file(flags.json_path, "cpu", full.name, to_json(report)); !written.is_ok()) {
        std::fprintf(stderr, "hive_throughput_bench: %s\n", written.message().c_str());
        return 1;
      }
    }
  }
  if (!flags.json_path.empty()) std::printf("wrote %s\n", flags.json_path.c_str());
  return exit_code;
}

}  // namespace
}  // namespace hive::throughput

int main(int argc, char** argv) {
  using namespace hive::throughput;
  ServerFlags server;
  RunSettings settings{.server_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
  ClientRoleOptions client;
  std::string role = "server";

  CLI::App app{"hivemind's benchmark_throughput presets on hive's expert server"};
  app.add_option("--role", role, "server (the benchmark) or client (started by the server role)")
      ->check(CLI::IsMember({"server", "client"}))->capture_default_str();
  app.add_option("--preset", server.presets, "presets to run, in order")
      ->delimiter(',')->check(CLI::IsMember(preset_names()))->capture_default_str();
  app.add_option("--num-batches-per-client", server.num_batches_per_client,
                 "hivemind's --num_batches_per_client (every preset but default)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--scale", server.scale, "multiplies num_clients and num_batches_per_client (0 < scale <= 1)")
      ->capture_default_str()->check(CLI::Range(1e-9, 1.0));
  app.add_option("--client-processes", settings.client_processes,
                 "processes the clients are spread over (at most num_clients)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--server-threads", settings.server_threads, "engine threads of the server")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-wait-ms", settings.max_wait_ms, "how long a call waits for others to join its batch")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--gemm-rows", server.gemm_rows, "rows of the sgemm that measures the machine's peak")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--json", server.json_path, "JSON file to record each preset in ('' for none)")
      ->capture_default_str();
  app.add_option("--timeout-s", settings.timeout_s, "timeout of each client call")
      ->capture_default_str()->check(CLI::PositiveNumber);
  // The client role's own flags; the server role passes them.
  app.add_option("--clients", client.clients, "client role: client threads in this process")
      ->check(CLI::PositiveNumber);
  app.add_option("--first-client", client.first_client, "client role: index of the first client");
  app.add_option("--num-experts", client.num_experts, "client role: experts the server holds")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch-size", client.batch_size, "client role: rows per call")->check(CLI::PositiveNumber);
  app.add_option("--hid-dim", client.hid_dim, "client role: hidden size")->check(CLI::PositiveNumber);
  app.add_option("--backprop", client.backprop, "client role: backward after each forward");
  CLI11_PARSE(app, argc, argv);

  if (role == "client") {
    client.num_batches = server.num_batches_per_client;
    client.timeout_s = settings.timeout_s;
    return run_client_role(client);
  }
  return run_server_role(server, settings);
}
