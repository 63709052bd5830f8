// dht_simulation: the DHT simulation's scenarios (tests/dht/sim/dht_scenarios.h) at 1,000 and
// 10,000 nodes, the real DhtNode code over a simulated network in this one process. Prints a
// table and writes bench/results/dht_simulation.json.
//
//   dht_simulation                      # N = 1,000 and 10,000; churn 1% and 10% per minute
//   dht_simulation --nodes 2000 --churn 0 --verbose --json /tmp/out.json   # one size, no churn
//
// Lookup rounds and RPCs are the same on every machine for a seed; wall and CPU times are this
// build's and this machine's (on a shared machine, read the CPU seconds).
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/dht/sim/dht_scenarios.h"

namespace {

using hive::dht::sim::ChurnConfig;
using hive::dht::sim::ChurnReport;
using hive::dht::sim::Distribution;
using hive::dht::sim::GetReport;
using hive::dht::sim::JoinStoreGetConfig;
using hive::dht::sim::JoinStoreGetReport;
using nlohmann::json;

json to_json(const Distribution& d) {
  return {{"mean", d.mean}, {"p50", d.p50}, {"p99", d.p99}, {"max", d.max}, {"count", d.count}};
}

json to_json(const GetReport& gets) {
  return {{"gets", gets.gets},
          {"found", gets.found},
          {"success_rate", gets.success_rate()},
          {"answered_locally", gets.local},
          {"unfinished", gets.unfinished},
          {"abandoned_getter_killed", gets.abandoned},
          {"rounds", to_json(gets.rounds)},
          {"rpcs_per_get", to_json(gets.requests)}};
}

json to_json(const hive::dht::DhtNodeStats& stats) {
  return {{"lookups", stats.lookups},
          {"bucket_refreshes", stats.bucket_refreshes},
          {"lookup_requests", stats.lookup_requests},
          {"stores", stats.stores},
          {"gets", stats.gets},
          {"gets_answered_locally", stats.gets_answered_locally},
          {"cache_refreshes", stats.cache_refreshes},
          {"handoffs", stats.handoffs},
          {"handed_off_items", stats.handed_off_items}};
}

json to_json(const hive::dht::sim::NetworkStats& network) {
  return {{"calls", network.calls},
          {"calls_by_method", network.calls_by_method},
          {"calls_timed_out", network.calls_timed_out},
          {"datagrams_sent", network.datagrams_sent},
          {"datagrams_to_dead_hosts", network.datagrams_to_nowhere},
          {"datagrams_lost", network.datagrams_lost}};
}

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

void print_header() {
  std::printf("%-16s %6s %6s %9s %7s %4s %4s %9s %4s %8s %8s %8s\n", "scenario", "nodes", "gets", "success%",
              "rounds", "p50", "p99", "rpcs/get", "p99", "stalled", "wall s", "cpu s");
}

void print_row(const std::string& scenario, size_t nodes, const GetReport& gets, double wall_seconds,
               double cpu) {
  std::printf("%-16s %6zu %6zu %9.2f %7.2f %4.0f %4.0f %9.1f %4.0f %8zu %8.1f %8.1f\n", scenario.c_str(), nodes,
              gets.gets, 100 * gets.success_rate(), gets.rounds.mean, gets.rounds.p50, gets.rounds.p99,
              gets.requests.mean, gets.requests.p99, gets.unfinished, wall_seconds, cpu);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes{1'000, 10'000};
  std::vector<double> churn_rates{0.01, 0.10};
  std::string json_path = HIVE_DHT_SIMULATION_JSON;
  bool verbose = false;
  double late_joiner_fraction = 0.1;
  JoinStoreGetConfig join_config;
  ChurnConfig churn_config;
  auto number = [&](int& i) { return std::strtod(argv[++i], nullptr); };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--nodes" && has_value) {
      sizes = {static_cast<size_t>(number(i))};
    } else if (arg == "--churn" && has_value) {  // fraction replaced per minute; 0: no churn runs
      const double rate = number(i);
      churn_rates = rate > 0 ? std::vector<double>{rate} : std::vector<double>{};
    } else if (arg == "--churn-keys" && has_value) {
      churn_config.keys = static_cast<size_t>(number(i));
    } else if (arg == "--churn-minutes" && has_value) {
      churn_config.duration = std::chrono::seconds(static_cast<int64_t>(number(i) * 60));
    } else if (arg == "--join-interval-ms" && has_value) {
      const auto interval = std::chrono::microseconds(static_cast<int64_t>(number(i) * 1000));
      join_config.join_interval = churn_config.join_interval = interval;
    } else if (arg == "--bucket-refresh-s" && has_value) {
      const auto period = static_cast<hive::dht::DhtTime>(number(i) * 1000);
      join_config.node.bucket_refresh_period_ms = churn_config.node.bucket_refresh_period_ms = period;
    } else if (arg == "--late-joiners" && has_value) {  // fraction of N joining after the stores
      late_joiner_fraction = number(i);
    } else if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--json" && has_value) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--nodes N] [--churn FRACTION_PER_MINUTE] [--churn-keys K] [--churn-minutes M]\n"
                   "          [--join-interval-ms MS] [--bucket-refresh-s S] [--late-joiners FRACTION]\n"
                   "          [--verbose] [--json PATH]\n",
                   argv[0]);
      return 2;
    }
  }

  json runs = json::array();
  print_header();
  for (size_t nodes : sizes) {
    JoinStoreGetConfig config = join_config;
    config.nodes = nodes;
    config.late_joiners = static_cast<size_t>(static_cast<double>(nodes) * late_joiner_fraction);
    double cpu_start = cpu_seconds();
    const JoinStoreGetReport report = hive::dht::sim::run_join_store_get(config);
    const double cpu = cpu_seconds() - cpu_start;
    print_row("join+store+get", nodes, report.gets, report.wall_seconds, cpu);
    if (verbose) std::printf("%s", hive::dht::sim::describe(report).c_str());
    runs.push_back({{"scenario", "join_store_get"},
                    {"nodes", nodes},
                    {"keys", config.keys},
                    {"seed", config.seed},
                    {"nodes_joined", report.nodes},
                    {"failed_bootstraps", report.failed_bootstraps},
                    {"join_virtual_seconds", report.join_virtual_seconds},
                    {"stores", {{"stores", report.stores.stores}, {"ok", report.stores.ok},
                                {"stored_on", to_json(report.stores.stored_on)},
                                {"copies_on_nearest", to_json(report.copies_on_nearest)}}},
                    {"late_joiners", config.late_joiners},
                    {"copies_on_nearest_after_late_joins", to_json(report.copies_on_nearest_after_joins)},
                    {"gets", to_json(report.gets)},
                    {"network", to_json(report.network)},
                    {"live_nodes_stats", to_json(report.node_stats)},
                    {"routing_table_entries", to_json(report.routing_table_sizes)},
                    {"join_wall_seconds", report.join_wall_seconds},
                    {"wall_seconds", report.wall_seconds},
                    {"cpu_seconds", cpu}});
    std::fflush(stdout);

    for (double rate : churn_rates) {
      ChurnConfig churn = churn_config;
      churn.nodes = nodes;
      churn.replaced_per_minute = rate;
      cpu_start = cpu_seconds();
      const ChurnReport result = hive::dht::sim::run_churn(churn);
      const double churn_cpu = cpu_seconds() - cpu_start;
      const std::string name = "churn " + std::to_string(static_cast<int>(rate * 100)) + "%/min";
      print_row(name, nodes, result.gets, result.wall_seconds, churn_cpu);
      if (verbose) std::printf("%s", hive::dht::sim::describe(result).c_str());
      runs.push_back({{"scenario", "churn"},
                      {"nodes", nodes},
                      {"keys", churn.keys},
                      {"seed", churn.seed},
                      {"replaced_per_minute", rate},
                      {"replaced", result.replaced},
                      {"failed_bootstraps", result.failed_bootstraps},
                      {"virtual_seconds_of_gets", churn.duration.count()},
                      {"announce_period_s", churn.announce_period.count()},
                      {"expiration_s", churn.expiration.count()},
                      {"announces", {{"stores", result.announces.stores}, {"ok", result.announces.ok},
                                     {"abandoned_owner_killed", result.announces.abandoned},
                                     {"stored_on", to_json(result.announces.stored_on)}}},
                      {"gets", to_json(result.gets)},
                      {"network", to_json(result.network)},
                      {"live_nodes_stats", to_json(result.node_stats)},
                      {"routing_table_entries", to_json(result.routing_table_sizes)},
                      {"churn_wall_seconds", result.churn_wall_seconds},
                      {"wall_seconds", result.wall_seconds},
                      {"cpu_seconds", churn_cpu}});
      std::fflush(stdout);
    }
  }

  utsname machine{};
  uname(&machine);
  const json out = {
      {"benchmark", "dht_simulation"},
      {"what", "real DhtNode code over a simulated datagram network in one process (tests/dht/sim)"},
      {"network", "access latency 5-50 ms per node, one-way = mean of both ends' + up to 10% jitter, "
                  "no loss, 3 datagram attempts over a 3 s RPC timeout"},
      {"node_options", "DhtNodeOptions defaults, bucket refresh period " +
                           std::to_string(join_config.node.bucket_refresh_period_ms / 1000) + " s"},
      {"build", HIVE_BUILD_TYPE},
      {"machine", {{"kernel", machine.release}, {"date", now_utc()}}},
      {"goals", {{"mean_lookup_rounds_at_most", 3.5}, {"get_success_under_churn_at_least", 0.99}}},
      {"runs", runs}};
  std::ofstream(json_path) << out.dump(2) << "\n";
  std::printf("wrote %s\n", json_path.c_str());
  return 0;
}
