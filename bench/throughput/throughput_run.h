// One run of a preset, as hivemind's benchmark_throughput() does it: launch the client
// processes, then build the experts and start the server in this process, let the clients go,
// wait for all of them, shut the server down. Timestamps of every step, the examples the
// clients got answers for, and how the server batched them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bench/throughput/presets.h"

namespace hive::throughput {

struct RunSettings {
  std::string program{};        // this binary, started again for the clients
  int64_t client_processes = 8;  // at most the preset's num_clients
  int server_threads = 1;       // the engine's threads in the server process
  double timeout_s = 600;       // per client call
  double max_wait_ms = 1;       // how long a call waits for others to join its batch
};

// Seconds since the run started; hivemind's timestamp names.
struct Timestamps {
  double launched_clients = 0;  // = began_launching_server
  double created_experts = 0;
  double server_ready = 0;
  double clients_ready = 0;  // every client process set up and waiting (hive's extra step)
  double clients_started = 0;  // the go signal: the later of server_ready and clients_ready
  double clients_finished = 0;
  double server_shutdown_finished = 0;
};

// Per kind of call, over every expert.
struct ServerBatching {
  uint64_t batches = 0;
  uint64_t calls = 0;
  uint64_t rows = 0;
  uint64_t largest_batch_calls = 0;
};

struct RunResult {
  Timestamps timestamps;
  std::optional<std::string> failure;  // the first thing that went wrong; success when absent
  int64_t examples_processed = 0;      // rows of the clients' successful batches
  double slowest_client_process_s = 0;
  // CPU time (user + system) of the server process from the go signal to the last client's
  // exit: divided by the window and the cores, the share of the machine the server got.
  double server_cpu_s = 0;
  ServerBatching forward, backward;
};

RunResult run_preset(const Preset& preset, const RunSettings& settings);

}  // namespace hive::throughput
