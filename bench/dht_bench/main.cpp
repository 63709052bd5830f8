// dht_bench: the DHT over real loopback sockets, every node in this process (each node an
// Endpoint with a DhtRunner; the nodes share a few EventLoops, i.e. I/O threads). Three scenarios:
//
//   hivemind  hivemind's benchmarks/benchmark_dht.py workload: 16 peers, each joining through 4
//             random earlier ones; 10 workers (threads) run 16 rounds each, concurrently; a round
//             stores one subkey from each of 8 random peers under a fresh key, then gets the key
//             (latest) from 8 random peers. A get succeeds only if it returns every subkey whose
//             store succeeded, with its value, and no other. 10% of the peers (rounded: 2 of 16)
//             are destroyed abruptly at random rounds during the run; the workers use only the
//             peers that stay. Store and get times are per round (8 operations at once).
//   latency   from one node (node 0, on its own I/O thread) of a swarm of N nodes (N = 20, 100,
//             1000): sequential puts, gets of fresh keys that other nodes stored (a remote
//             lookup unless node 0 holds a replica: reported apart), the same gets again (now
//             cached locally) and latest gets (a crawl of the nearest nodes); then ops/s with
//             --in-flight operations outstanding.
//   overhead  memory per record in one LocalStorage: 100k small records stored directly, process
//             RSS and malloc's bytes in use before and after, and LocalStorage's accounted bytes.
//
//   dht_bench                                   # everything; writes bench/results/dht.json
//   dht_bench --scenario latency --nodes 20 --ops 200 --throughput-ops 1000 --json ''
//
// Wall times are this machine's, and every node of the swarm runs in this process: the node
// being measured shares the CPU with all the nodes it talks to.
//
// One file per scenario (hivemind_scenario.cpp, latency_scenario.cpp, overhead_scenario.cpp),
// what they share in bench_support.h; this file parses the flags, judges the targets
// and writes the JSON.
#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/dht_bench/scenarios.h"

namespace hive::dht_bench {
namespace {

// The targets.
constexpr double kGetP50TargetMs = 1.0;  // at N = 100
constexpr double kGetP99TargetMs = 3.0;  // at N = 100
constexpr size_t kTargetNodes = 100;
constexpr double kOpsPerSecondTarget = 5000;
constexpr double kOverheadTargetBytes = 512;

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::vector<double> load_average() {
  double loads[3] = {0, 0, 0};
  ::getloadavg(loads, 3);
  return {loads[0], loads[1], loads[2]};
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

std::string build_type() {
#ifdef NDEBUG
  return "optimized (NDEBUG)";
#else
  return "debug (assertions on)";
#endif
}

// The targets, judged on what ran (a target whose scenario did not run is left out): the
// get latency and ops/s at N = 100 (gets are remote lookups of keys other nodes stored; ops/s is
// the best --in-flight level), memory per plain record from RSS. Latest gets (a crawl of the 20
// nearest nodes, as a put's lookup) are reported beside them, as information.
json verdicts(const json& result) {
  json out = json::object();
  const auto at_most = [](double value, double target) {
    return json{{"value", value}, {"target_at_most", target}, {"met", value <= target}};
  };
  const auto at_least = [](double value, double target) {
    return json{{"value", value}, {"target_at_least", target}, {"met", value >= target}};
  };
  if (result.contains("latency")) {
    for (const json& run : result["latency"]) {
      if (run["nodes"].get<size_t>() != kTargetNodes) continue;
      out["get_p50_ms_at_100"] = at_most(run["get_remote"]["p50_ms"].get<double>(), kGetP50TargetMs);
      out["get_p99_ms_at_100"] = at_most(run["get_remote"]["p99_ms"].get<double>(), kGetP99TargetMs);
      double put = 0, get = 0;
      for (const json& level : run["throughput"]) {
        put = std::max(put, level["put"]["ops_per_s"].get<double>());
        get = std::max(get, level["get"]["ops_per_s"].get<double>());
      }
      out["get_ops_per_s_at_100"] = at_least(get, kOpsPerSecondTarget);
      out["put_ops_per_s_at_100"] = at_least(put, kOpsPerSecondTarget);
      json latest_p50 = at_most(run["get_latest"]["p50_ms"].get<double>(), kGetP50TargetMs);
      json latest_p99 = at_most(run["get_latest"]["p99_ms"].get<double>(), kGetP99TargetMs);
      latest_p50["information_only"] = latest_p99["information_only"] = true;
      out["latest_get_p50_ms_at_100"] = latest_p50;
      out["latest_get_p99_ms_at_100"] = latest_p99;
    }
  }
  if (result.contains("overhead")) {
    out["overhead_bytes_per_record"] =
        at_most(result["overhead"]["rows"][0]["rss_overhead_bytes_per_entry"].get<double>(), kOverheadTargetBytes);
  }
  return out;
}

}  // namespace
}  // namespace hive::dht_bench

int main(int argc, char** argv) {
  using namespace hive::dht_bench;
  BenchOptions options;
  CLI::App app{"DHT benchmarks over loopback: hivemind's benchmark_dht workload, latency and ops/s from "
               "one node, memory per record"};
  app.add_option("--scenario", options.scenarios, "Scenarios to run: hivemind, latency, overhead")
      ->delimiter(',')->check(CLI::IsMember({"hivemind", "latency", "overhead"}))->capture_default_str();
  app.add_option("--json", options.json_path, "JSON output ('' for none)")->capture_default_str();
  app.add_option("--loops", options.loops, "I/O threads the swarm's nodes share")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--peers", options.peers, "hivemind: peers")->capture_default_str();
  app.add_option("--initial-peers", options.initial_peers, "nodes each new node bootstraps through")->capture_default_str();
  app.add_option("--workers", options.workers, "hivemind: concurrent workers")->capture_default_str();
  app.add_option("--rounds", options.rounds, "hivemind: rounds per worker")->capture_default_str();
  app.add_option("--store-peers", options.store_peers, "hivemind: peers storing a subkey per round")->capture_default_str();
  app.add_option("--get-peers", options.get_peers, "hivemind: peers getting the key per round")->capture_default_str();
  app.add_option("--failure-rate", options.failure_rate, "hivemind: share of peers killed during the run")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99));
  app.add_option("--expiration", options.expiration_s, "seconds until stored values expire")->capture_default_str();
  app.add_option("--latest", options.latest, "hivemind: gets crawl for the latest record")->capture_default_str();
  app.add_option("--seed", options.seed, "random seed (keys, peer choices, kill schedule)")->capture_default_str();
  app.add_option("--nodes", options.nodes, "latency: swarm sizes")->delimiter(',')->capture_default_str();
  app.add_option("--ops", options.ops, "latency: sequential operations of each kind")->capture_default_str();
  app.add_option("--throughput-ops", options.throughput_ops, "latency: operations per ops/s measurement")
      ->capture_default_str();
  app.add_option("--in-flight", options.in_flight, "latency: operations outstanding for ops/s (one run each)")
      ->delimiter(',')->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--value-bytes", options.value_bytes, "latency: bytes per stored value")->capture_default_str();
  app.add_option("--bucket-refresh", options.bucket_refresh_s,
                 "latency: seconds before a node refreshes a bucket no lookup touched (the DHT's default is 60)")
      ->capture_default_str();
  app.add_option("--records", options.records, "overhead: entries stored")->capture_default_str();
  app.add_option("--record-value-bytes", options.record_value_bytes, "overhead: bytes per value")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::set<std::string> scenarios(options.scenarios.begin(), options.scenarios.end());

  utsname machine{};
  ::uname(&machine);
  json result = {{"benchmark", "dht_bench"},
                 {"what", "hive's DHT over real loopback UDP/TCP, every node in one process (bench/dht_bench/)"},
                 {"build", build_type()},
                 {"machine", {{"cpu_model", cpu_model()},
                              {"cores", std::thread::hardware_concurrency()},
                              {"kernel", machine.release},
                              {"date", now_utc()},
                              {"load_average_before", load_average()}}}};
  std::printf("dht_bench: %s, %u cores, load average %.2f\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), load_average()[0]);

  // First, while the heap is fresh: RSS grows by what the records take, not into freed memory.
  if (scenarios.count("overhead")) result["overhead"] = run_overhead(options);
  if (scenarios.count("hivemind")) result["hivemind"] = run_hivemind(options);
  if (scenarios.count("latency")) {
    json runs = json::array();
    for (size_t nodes : options.nodes) {
      const auto start = SteadyClock::now();
      runs.push_back(run_latency(options, nodes));
      std::printf("latency: %zu nodes done in %.1f s\n", nodes, elapsed_s(start));
      std::fflush(stdout);
    }
    print_latency_table(runs);
    result["latency"] = runs;
  }
  result["machine"]["load_average_after"] = load_average();
  result["targets"] = verdicts(result);

  std::printf("\n== targets\n");
  for (const auto& [name, verdict] : result["targets"].items()) {
    const bool at_most = verdict.contains("target_at_most");
    const bool met = verdict["met"].get<bool>();
    std::printf("%-28s %10.3f  %s %-8g %s\n", name.c_str(), verdict["value"].get<double>(), at_most ? "<=" : ">=",
                verdict[at_most ? "target_at_most" : "target_at_least"].get<double>(),
                verdict.contains("information_only") ? (met ? "(info: within)" : "(info: above)")
                                                     : (met ? "met" : "MISSED"));
  }
  std::printf("load average %.2f -> %.2f\n", result["machine"]["load_average_before"][0].get<double>(),
              result["machine"]["load_average_after"][0].get<double>());
  if (!options.json_path.empty()) {
    std::ofstream(options.json_path) << result.dump(2) << "\n";
    std::printf("wrote %s\n", options.json_path.c_str());
  }
  return 0;
}
