// `hive dht`: runs a DHT node until SIGINT or SIGTERM. Once bootstrapped it prints, once on
// stdout, the exact `--initial-peers ADDRESS` argument other nodes should be started with (not
// in client mode: such a node serves nothing), then logs its routing table's and storage's
// sizes to stderr every --log-period seconds. A failed bootstrap exits with 1.
//
// Threads: the main thread waits for SIGINT and SIGTERM (termination_signals.h) with the next
// log line as its timeout; the I/O thread runs the node.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dht/node/dht_runner.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tools/hive/commands.h"
#include "tools/hive/peer_setup.h"
#include "tools/hive/termination_signals.h"

namespace hive::tools {
namespace {

struct DhtCommandOptions {
  std::string listen = "0.0.0.0:31337";
  std::string advertise;
  std::vector<std::string> initial_peers;
  std::string identity;
  bool client_mode = false;
  double log_period_s = 30;
};

void log_sizes(dht::DhtRunner& runner) {
  const dht::DhtSnapshot snapshot = runner.snapshot();
  std::fprintf(stderr,
               "hive dht: routing table %zu nodes in %zu buckets; storage %zu records, %zu subkeys, "
               "%zu bytes; cache %zu records; %llu requests served (%llu malformed)\n",
               snapshot.routing_table_size, snapshot.routing_table_buckets, snapshot.storage.records,
               snapshot.storage.subkeys, snapshot.storage.bytes_used, snapshot.cache.records,
               static_cast<unsigned long long>(snapshot.protocol.requests_served),
               static_cast<unsigned long long>(snapshot.protocol.requests_malformed));
}

// Logs every `period` until SIGINT or SIGTERM arrives; returns which.
int wait_for_signal(dht::DhtRunner& runner, const TerminationSignals& signals,
                    std::chrono::duration<double> period) {
  using Clock = std::chrono::steady_clock;
  const auto step = std::chrono::duration_cast<Clock::duration>(period);
  for (Clock::time_point next_log = Clock::now() + step;; next_log += step) {
    if (const std::optional<int> signal = signals.wait_until(next_log)) return *signal;
    log_sizes(runner);
  }
}

int run_dht(const DhtCommandOptions& options) {
  auto initial_peers = parse_initial_peers(options.initial_peers);
  if (!initial_peers.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", initial_peers.status().message().c_str());
    return 1;
  }
  auto identity = load_identity(options.identity);
  if (!identity.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", identity.status().message().c_str());
    return 1;
  }

  const TerminationSignals signals;  // before the I/O thread starts: threads inherit the mask
  net::EventLoop loop;
  net::Endpoint endpoint(loop, std::move(identity).value());
  auto bound = endpoint.listen(options.listen);
  if (!bound.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", bound.status().to_string().c_str());
    return 1;
  }
  auto advertised = advertised_address("hive dht", options.advertise, bound.value());
  if (!advertised.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", advertised.status().message().c_str());
    return 1;
  }
  dht::DhtNodeOptions node_options;
  node_options.protocol.mode = options.client_mode ? dht::NodeMode::kClient : dht::NodeMode::kServer;
  auto runner = std::make_unique<dht::DhtRunner>(endpoint, advertised.value(), node_options);
  const net::Status bootstrapped = runner->bootstrap(initial_peers.value()).get();
  if (!bootstrapped.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", bootstrapped.to_string().c_str());
    return 1;
  }

  std::fprintf(stderr, "hive dht: peer id %s, listening on %s%s\n",
               endpoint.identity().peer_id().to_hex().c_str(), bound.value().to_string().c_str(),
               options.client_mode ? " (client mode: serves nothing)" : "");
  if (!options.client_mode) {
    std::printf("--initial-peers %s\n", advertised.value().to_string().c_str());
    std::fflush(stdout);
  }
  log_sizes(*runner);

  const int signal = wait_for_signal(*runner, signals, std::chrono::duration<double>(options.log_period_s));
  std::fprintf(stderr, "hive dht: %s, shutting down\n", signal_name(signal));
  runner.reset();
  endpoint.shutdown();
  return 0;
}

}  // namespace

Command add_dht_command(CLI::App& app) {
  auto options = std::make_shared<DhtCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "dht", "Run a DHT node until SIGINT/SIGTERM; prints the --initial-peers argument for others");
  command->add_option("--listen", options->listen, "TCP and UDP address to listen on (port 0: any free one)")
      ->capture_default_str();
  command->add_option("--advertise", options->advertise,
                      "Address others reach this node at, HOST[:PORT] (default: the listening "
                      "address, or loopback when that is a wildcard)");
  command->add_option("--initial-peers", options->initial_peers,
                      "HOST:PORT of nodes already in the swarm (repeatable or comma separated; "
                      "none: start a new swarm)")
      ->delimiter(',');
  command->add_option("--identity", options->identity,
                      "Identity file, created if missing (default: a fresh key every run)");
  command->add_flag("--client-mode", options->client_mode,
                    "Use the DHT without serving it (never added to others' routing tables)");
  command->add_option("--log-period", options->log_period_s, "Seconds between status lines")
      ->capture_default_str()->check(CLI::PositiveNumber);
  return {command, [options] { return run_dht(*options); }};
}

}  // namespace hive::tools
