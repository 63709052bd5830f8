// `hive swarm`: what an operator looks at first. It joins the DHT in client mode (it serves
// nothing and is put in nobody's routing table), reads every prefix record under --uid-prefix
// on the --grid (announced_experts.h), and prints the servers and experts the DHT shows now,
// with the time left on each announcement: a table (swarm_report.h), or with --json one JSON
// object on stdout. Exit 2: a bad setting; exit 1: it cannot listen, or no initial peer answers.
//
// Threads: the endpoint's I/O thread runs the DHT node; the main thread waits for the gets.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dht/node/dht_runner.h"
#include "engine/core/error.h"
#include "moe/uid/expert_uid.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tools/hive/announced_experts.h"
#include "tools/hive/commands.h"
#include "tools/hive/grid_option.h"
#include "tools/hive/peer_setup.h"
#include "tools/hive/swarm_report.h"

namespace hive::tools {
namespace {

constexpr int kBadSetting = 2;
constexpr int kStartFailed = 1;
// Gets of one level at once: enough to hide the lookups' round trips on a wide grid without
// flooding the nearest nodes with one burst per prefix.
constexpr size_t kMaxGetsInFlight = 32;

struct SwarmOptions {
  std::vector<std::string> initial_peers;
  std::string uid_prefix = "ffn";
  std::string grid = "8x8";
  std::string listen = "0.0.0.0:0";
  double announce_period_s = 30;  // hive serve's default
  bool json = false;
};

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "hive swarm: %s\n", message.c_str());
  return code;
}

int run_swarm(const SwarmOptions& options) {
  if (options.uid_prefix.empty() || options.uid_prefix.find(moe::kUidDelimiter) != std::string::npos) {
    return fail(kBadSetting, str_cat("--uid-prefix '", options.uid_prefix,
                                     "': expected a non-empty prefix without '", moe::kUidDelimiter,
                                     "' (e.g. ffn)"));
  }
  std::vector<int64_t> grid;
  try {
    grid = parse_grid(options.grid);
  } catch (const Error& error) {
    return fail(kBadSetting, error.what());
  }
  auto initial_peers = parse_initial_peers(options.initial_peers);
  if (!initial_peers.is_ok()) return fail(kBadSetting, initial_peers.message());
  if (initial_peers.value().empty()) {
    return fail(kBadSetting, "--initial-peers is required (the swarm's DHT nodes)");
  }

  net::EventLoop loop;
  net::Endpoint endpoint(loop, net::Identity::generate());
  auto bound = endpoint.listen(options.listen);
  if (!bound.is_ok()) {
    return fail(kStartFailed, str_cat("--listen ", options.listen, ": ", bound.status().to_string()));
  }
  dht::DhtNodeOptions node_options;
  node_options.protocol.mode = dht::NodeMode::kClient;
  // A client-mode node never tells others its address, so the bound one serves, wildcard or not.
  auto dht = std::make_unique<dht::DhtRunner>(endpoint, bound.value(), node_options);
  const net::Status joined = dht->bootstrap(initial_peers.value()).get();
  if (!joined.is_ok()) return fail(kStartFailed, joined.to_string());

  // Taken before the reads, which drop what has expired by then: every time left is positive.
  const dht::DhtTime now = dht->clock().now();
  std::vector<AnnouncedExpert> experts =
      find_announced_experts(*dht, options.uid_prefix, grid, kMaxGetsInFlight);
  const SwarmView view{.uid_prefix = options.uid_prefix,
                       .grid = grid,
                       .now = now,
                       .assumed_announce_period_s = options.announce_period_s,
                       .experts = std::move(experts),
                       .dht_peers_known = dht->snapshot().routing_table_size};
  const std::string report = options.json ? swarm_json(view) : swarm_table(view);
  std::fputs(report.c_str(), stdout);
  std::fflush(stdout);
  dht.reset();
  endpoint.shutdown();
  return 0;
}

}  // namespace

Command add_swarm_command(CLI::App& app) {
  auto options = std::make_shared<SwarmOptions>();
  CLI::App* command = app.add_subcommand(
      "swarm",
      "List the experts and servers the DHT shows under a uid prefix, with their addresses and the "
      "time left on their announcements");
  command
      ->add_option("--initial-peers", options->initial_peers,
                   "HOST:PORT of the swarm's DHT nodes (repeatable or comma separated)")
      ->delimiter(',')
      ->required();
  command->add_option("--uid-prefix", options->uid_prefix, "Prefix of the experts' uids")
      ->capture_default_str();
  command->add_option("--grid", options->grid, "Expert grid to read, e.g. 8x8")->capture_default_str();
  command->add_option("--listen", options->listen, "Address of this client's endpoint")
      ->capture_default_str();
  command
      ->add_option("--announce-period", options->announce_period_s,
                   "The servers' announce period in seconds, assumed to estimate announcement ages "
                   "(the DHT keeps only expirations)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--json", options->json, "One JSON object on stdout instead of the table");
  return {command, [options] { return run_swarm(*options); }};
}

}  // namespace hive::tools
