#include "bench/throughput/throughput_run.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "bench/throughput/client_processes.h"
#include "engine/cpu/cpu_threads.h"
#include "moe/experts/builtin_experts.h"
#include "moe/server/expert_server.h"
#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"

namespace hive::throughput {
namespace {

using Clock = std::chrono::steady_clock;

moe::ExpertUid expert_uid(int64_t index) {
  return moe::ExpertUid::parse("expert." + std::to_string(index)).value();
}

// hivemind's experts: the block of expert_cls, trained by Adam (torch's defaults, lr 1e-3).
std::vector<std::unique_ptr<moe::ExpertBackend>> build_experts(const Preset& preset) {
  const moe::ExpertRegistry registry = moe::builtin_expert_registry();
  std::vector<std::unique_ptr<moe::ExpertBackend>> backends;
  for (int64_t i = 0; i < preset.num_experts; ++i) {
    auto module = registry.create(preset.expert_cls, preset.hid_dim,
                                  {.seed = static_cast<uint64_t>(i)}).value_or_throw();
    backends.push_back(std::make_unique<moe::ExpertBackend>(
        expert_uid(i), std::move(module),
        moe::ExpertBackendConfig{.max_batch_size = preset.resolved_max_batch_size(),
                                 .optimizer = {.type = moe::OptimizerType::kAdam, .lr = 1e-3f}}));
  }
  return backends;
}

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

ServerBatching batching_of(moe::ExpertServer& server, const Preset& preset, moe::TaskKind kind) {
  ServerBatching total;
  for (int64_t i = 0; i < preset.num_experts; ++i) {
    const moe::TaskPoolStats stats = server.stats(expert_uid(i), kind);
    total.batches += stats.batches;
    total.calls += stats.tasks;
    total.rows += stats.rows;
    total.largest_batch_calls = std::max(total.largest_batch_calls, stats.largest_batch_tasks);
  }
  return total;
}

}  // namespace

RunResult run_preset(const Preset& preset, const RunSettings& settings) {
  RunResult result;
  Timestamps& t = result.timestamps;
  const Clock::time_point started = Clock::now();
  const auto since_start = [started] {
    return std::chrono::duration<double>(Clock::now() - started).count();
  };

  // Clients first, as hivemind launches them before the server touches its device.
  ClientProcesses clients(settings.program, std::min(settings.client_processes, preset.num_clients),
                          {.clients = preset.num_clients,
                           .num_experts = preset.num_experts,
                           .num_batches = preset.num_batches_per_client,
                           .batch_size = preset.batch_size,
                           .hid_dim = preset.hid_dim,
                           .backprop = preset.backprop,
                           .timeout_s = settings.timeout_s});
  t.launched_clients = since_start();

  set_cpu_threads(settings.server_threads);
  std::vector<std::unique_ptr<moe::ExpertBackend>> experts = build_experts(preset);
  t.created_experts = since_start();

  net::EventLoop loop;
  net::Endpoint endpoint(loop, net::Identity::generate());
  const auto max_wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double, std::milli>(settings.max_wait_ms));
  moe::ExpertServer server(endpoint, std::move(experts), {.max_wait = max_wait});
  const net::SocketAddress address = endpoint.listen("127.0.0.1:0").value();
  t.server_ready = since_start();

  if (Status ready = clients.wait_ready(); !ready.is_ok()) {
    result.failure = ready.message();
  }
  t.clients_ready = since_start();
  if (!result.failure) {
    if (Status go = clients.start(address.to_string()); !go.is_ok()) result.failure = go.message();
  }
  t.clients_started = since_start();
  const double cpu_at_start = process_cpu_seconds();
  if (!result.failure) {
    auto outcome = clients.finish();
    if (outcome.is_ok()) {
      result.examples_processed = outcome.value().examples;
      result.slowest_client_process_s = outcome.value().seconds;
    } else {
      result.failure = outcome.message();
    }
  }
  t.clients_finished = since_start();
  result.server_cpu_s = process_cpu_seconds() - cpu_at_start;
  result.forward = batching_of(server, preset, moe::TaskKind::kForward);
  result.backward = batching_of(server, preset, moe::TaskKind::kBackward);

  server.shutdown();
  t.server_shutdown_finished = since_start();
  return result;
}

}  // namespace hive::throughput
