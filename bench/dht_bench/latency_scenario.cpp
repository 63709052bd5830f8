#include "bench/dht_bench/scenarios.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "net/core/check.h"

namespace hive::dht_bench {
namespace {

// Runs `count` operations with up to `in_flight` outstanding (each next one issued when the
// oldest finishes); returns operations per second. `check` sees each result.
template <typename T, typename Issue, typename Check>
double run_in_flight(size_t count, size_t in_flight, Issue issue, Check check) {
  std::deque<std::pair<size_t, std::future<T>>> window;
  size_t next = 0;
  const auto start = SteadyClock::now();
  while (next < count && window.size() < in_flight) window.emplace_back(next, issue(next)), ++next;
  while (!window.empty()) {
    auto [index, future] = std::move(window.front());
    window.pop_front();
    check(index, await(future, "operation"));
    if (next < count) window.emplace_back(next, issue(next)), ++next;
  }
  return static_cast<double>(count) / elapsed_s(start);
}

double ms_since(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

struct GetTally {
  size_t found = 0, wrong = 0, missing = 0, local = 0;
  json to_json() const { return {{"found", found}, {"wrong_value", wrong}, {"missing", missing}, {"answered_locally", local}}; }
};

void tally(GetTally& counts, const GetResult& result, const Bytes& expected) {
  if (result.local) ++counts.local;
  if (!result.record || result.record->is_dictionary()) {
    ++counts.missing;
  } else if (result.record->plain() != expected) {
    ++counts.wrong;
  } else {
    ++counts.found;
  }
}

// What one throughput phase cost: ops/s, and per operation the find requests node 0 sent, the
// process's CPU time (every node's share: all run here), node 0's own I/O thread's CPU time
// (its sockets' kernel work included, which on loopback also delivers what it sends), and UDP
// receive-buffer overflows (a system-wide counter: other programs' drops count too). 10^6 over
// node 0's CPU per op is the rate its one thread could sustain with its peers on other machines.
struct PhaseCost {
  double ops_per_s = 0;
  double find_requests_per_op = 0;
  double cpu_us_per_op = 0;
  double node0_cpu_us_per_op = 0;
  uint64_t udp_receive_buffer_drops = 0;
  json to_json() const {
    return {{"ops_per_s", ops_per_s}, {"find_requests_per_op", find_requests_per_op},
            {"cpu_us_per_op", cpu_us_per_op}, {"node0_thread_cpu_us_per_op", node0_cpu_us_per_op},
            {"udp_receive_buffer_drops", udp_receive_buffer_drops}};
  }
};

template <typename Run>
PhaseCost measure_phase(DhtRunner& node, EventLoop& node_loop, Run run, size_t ops) {
  const uint64_t requests_before = node.snapshot().node.lookup_requests;
  const uint64_t drops_before = udp_receive_buffer_errors();
  const double cpu_before = process_cpu_us();
  const double node_cpu_before = node_loop.run_sync(thread_cpu_us);
  PhaseCost cost;
  cost.ops_per_s = run();
  cost.node0_cpu_us_per_op = (node_loop.run_sync(thread_cpu_us) - node_cpu_before) / static_cast<double>(ops);
  cost.cpu_us_per_op = (process_cpu_us() - cpu_before) / static_cast<double>(ops);
  cost.udp_receive_buffer_drops = udp_receive_buffer_errors() - drops_before;
  cost.find_requests_per_op =
      static_cast<double>(node.snapshot().node.lookup_requests - requests_before) / static_cast<double>(ops);
  return cost;
}

struct KeySet {
  std::vector<std::string> keys;
  std::vector<Bytes> values;
};

// Stores `count` fresh keys, each from a random node other than 0, kSetupInFlight at once; exits
// if a store fails (the gets of these keys would measure nothing).
KeySet store_from_others(Swarm& swarm, size_t count, const BenchOptions& options, DhtTime expiration,
                         std::mt19937_64& random, const char* tag) {
  KeySet set;
  std::vector<size_t> from;
  for (size_t i = 0; i < count; ++i) {
    set.keys.push_back(std::string(tag) + "." + random_hex(random, 8));
    const std::string value = random_hex(random, (options.value_bytes + 1) / 2).substr(0, options.value_bytes);
    set.values.push_back(bytes_of(value));
    from.push_back(1 + random() % (swarm.size() - 1));
  }
  size_t failed = 0;
  run_in_flight<StoreResult>(
      count, kSetupInFlight,
      [&](size_t i) { return swarm.runner(from[i]).store(set.keys[i], set.values[i], expiration); },
      [&](size_t, const StoreResult& result) { failed += result.ok() ? 0 : 1; });
  if (failed > 0) {
    std::fprintf(stderr, "dht_bench: %zu of %zu stores of '%s' keys failed\n", failed, count, tag);
    std::exit(1);
  }
  return set;
}

}  // namespace

json run_latency(const BenchOptions& options, size_t nodes) {
  HIVE_NET_CHECK(nodes >= 2, "--nodes must be at least 2, got ", nodes);
  ensure_file_limit(nodes);
  std::mt19937_64 random(options.seed + nodes);
  hive::dht::SystemClock clock;
  // Node 0, the one measured, has its own I/O thread (as its own process would); the others
  // share options.loops threads.
  DhtNodeOptions node_options;
  node_options.bucket_refresh_period_ms = static_cast<DhtTime>(options.bucket_refresh_s * 1000);
  Swarm swarm(options.loops + 1, node_options);
  swarm.add(0);
  for (size_t i = 1; i < nodes; ++i) swarm.add(1 + (i - 1) % options.loops);
  const auto join_start = SteadyClock::now();
  join(swarm, options.initial_peers, 16, random);
  const double join_s = elapsed_s(join_start);
  DhtRunner& node = swarm.runner(0);
  const DhtTime expiration = clock.now() + static_cast<DhtTime>(options.expiration_s * 1000);

  const auto setup_start = SteadyClock::now();
  const KeySet remote = store_from_others(swarm, options.ops, options, expiration, random, "get");
  const KeySet latest = store_from_others(swarm, options.ops, options, expiration, random, "latest");
  const double setup_s = elapsed_s(setup_start);

  // Sequential: one operation at a time from node 0, each timed from the caller's thread (the
  // hand-off to node 0's I/O thread and back included).
  std::vector<double> put_ms;
  size_t puts_failed = 0, put_replicas = 0;
  for (size_t i = 0; i < options.ops; ++i) {
    const std::string key = "put." + random_hex(random, 8);
    const auto start = SteadyClock::now();
    auto future = node.store(key, bytes_of(random_hex(random, options.value_bytes / 2)), expiration);
    const StoreResult result = await(future, "put");
    put_ms.push_back(ms_since(start));
    puts_failed += result.ok() ? 0 : 1;
    put_replicas += result.stored;
  }
  std::vector<double> get_all_ms, get_remote_ms, get_local_ms, cached_ms, latest_ms;
  std::vector<double> remote_rounds, remote_requests;
  GetTally get_tally, cached_tally, latest_tally;
  for (size_t i = 0; i < options.ops; ++i) {
    const auto start = SteadyClock::now();
    auto future = node.get(remote.keys[i]);
    const GetResult result = await(future, "get");
    const double ms = ms_since(start);
    get_all_ms.push_back(ms);
    (result.local ? get_local_ms : get_remote_ms).push_back(ms);
    if (!result.local) {
      remote_rounds.push_back(static_cast<double>(result.rounds));
      remote_requests.push_back(static_cast<double>(result.requests));
    }
    tally(get_tally, result, remote.values[i]);
  }
  for (size_t i = 0; i < options.ops; ++i) {  // the same keys: now in node 0's cache
    const auto start = SteadyClock::now();
    auto future = node.get(remote.keys[i]);
    const GetResult result = await(future, "cached get");
    cached_ms.push_back(ms_since(start));
    tally(cached_tally, result, remote.values[i]);
  }
  std::vector<double> latest_requests;
  for (size_t i = 0; i < options.ops; ++i) {
    const auto start = SteadyClock::now();
    auto future = node.get(latest.keys[i], get_options(true));
    const GetResult result = await(future, "latest get");
    latest_ms.push_back(ms_since(start));
    latest_requests.push_back(static_cast<double>(result.requests));
    tally(latest_tally, result, latest.values[i]);
  }

  // Throughput: `in_flight` operations outstanding from node 0, for each level; the gets read
  // fresh keys stored by other nodes for that level (remote lookups, as above).
  json throughput = json::array();
  for (size_t in_flight : options.in_flight) {
    const std::string level = std::to_string(in_flight);
    const KeySet bulk = store_from_others(swarm, options.throughput_ops, options, expiration, random,
                                          ("bulk" + level).c_str());
    size_t bulk_puts_failed = 0;
    const PhaseCost put_cost = measure_phase(node, swarm.loop(0), [&] {
      return run_in_flight<StoreResult>(
          options.throughput_ops, in_flight,
          [&](size_t i) { return node.store("bulkput." + level + "." + std::to_string(i), bulk.values[i], expiration); },
          [&](size_t, const StoreResult& result) { bulk_puts_failed += result.ok() ? 0 : 1; });
    }, options.throughput_ops);
    GetTally bulk_tally;
    const PhaseCost get_cost = measure_phase(node, swarm.loop(0), [&] {
      return run_in_flight<GetResult>(
          options.throughput_ops, in_flight, [&](size_t i) { return node.get(bulk.keys[i]); },
          [&](size_t i, const GetResult& result) { tally(bulk_tally, result, bulk.values[i]); });
    }, options.throughput_ops);
    GetTally latest_bulk_tally;
    const PhaseCost latest_cost = measure_phase(node, swarm.loop(0), [&] {
      return run_in_flight<GetResult>(
          options.throughput_ops, in_flight,
          [&](size_t i) { return node.get(bulk.keys[i], get_options(true)); },
          [&](size_t i, const GetResult& result) { tally(latest_bulk_tally, result, bulk.values[i]); });
    }, options.throughput_ops);
    throughput.push_back({{"in_flight", in_flight},
                          {"ops", options.throughput_ops},
                          {"put", put_cost.to_json()},
                          {"put_failed", bulk_puts_failed},
                          {"get", get_cost.to_json()},
                          {"get_results", bulk_tally.to_json()},
                          {"get_latest", latest_cost.to_json()},
                          {"get_latest_results", latest_bulk_tally.to_json()}});
  }

  const hive::dht::DhtSnapshot snapshot = node.snapshot();
  return {{"nodes", nodes},
          {"io_threads", swarm.loops()},
          {"bucket_refresh_period_s", options.bucket_refresh_s},
          {"join_s", join_s},
          {"setup_stores", 2 * options.ops},
          {"setup_s", setup_s},
          {"routing_table_size_of_node_0", snapshot.routing_table_size},
          {"put", to_json(latency_of(put_ms))},
          {"put_failed", puts_failed},
          {"put_replicas_mean", static_cast<double>(put_replicas) / static_cast<double>(std::max<size_t>(options.ops, 1))},
          {"get_remote", to_json(latency_of(get_remote_ms))},
          {"get_remote_rounds_mean", spread_of(remote_rounds).mean},
          {"get_remote_requests_mean", spread_of(remote_requests).mean},
          {"get_replica_on_node_0", to_json(latency_of(get_local_ms))},
          {"get_first", to_json(latency_of(get_all_ms))},
          {"get_first_results", get_tally.to_json()},
          {"get_cached", to_json(latency_of(cached_ms))},
          {"get_cached_results", cached_tally.to_json()},
          {"get_latest", to_json(latency_of(latest_ms))},
          {"get_latest_requests_mean", spread_of(latest_requests).mean},
          {"get_latest_results", latest_tally.to_json()},
          {"throughput", std::move(throughput)}};
}

void print_latency_table(const json& runs) {
  std::printf("\n== latency from node 0 (sequential, ms; measured from the caller's thread)\n");
  std::printf("%6s %-34s %6s %8s %8s %8s %8s\n", "nodes", "operation", "count", "p50", "p99", "mean", "max");
  const std::vector<std::pair<const char*, const char*>> rows{
      {"put", "put (lookup 5 nearest + store 5)"},
      {"get_remote", "get, remote lookup (first get)"},
      {"get_replica_on_node_0", "get, node 0 holds a replica"},
      {"get_cached", "get, cached by the first get"},
      {"get_latest", "get latest=true (crawl)"}};
  for (const json& run : runs) {
    for (const auto& [field, label] : rows) {
      const json& l = run[field];
      std::printf("%6zu %-34s %6zu %8.3f %8.3f %8.3f %8.3f\n", run["nodes"].get<size_t>(), label,
                  l["count"].get<size_t>(), l["p50_ms"].get<double>(), l["p99_ms"].get<double>(),
                  l["mean_ms"].get<double>(), l["max_ms"].get<double>());
    }
  }
  std::printf("\n== ops/s from node 0 with operations in flight (finds: find requests node 0 sent per op; "
              "cpu: process CPU per op, every node's share; node 0 cpu: its I/O thread's; drops: UDP "
              "receive-buffer overflows)\n");
  std::printf("%6s %9s %-11s %9s %7s %8s %11s %7s\n", "nodes", "in flight", "operation", "ops/s", "finds",
              "cpu us", "node 0 us", "drops");
  for (const json& run : runs) {
    for (const json& level : run["throughput"]) {
      for (const char* kind : {"put", "get", "get_latest"}) {
        const json& cost = level[kind];
        std::printf("%6zu %9zu %-11s %9.0f %7.1f %8.0f %11.0f %7llu\n", run["nodes"].get<size_t>(),
                    level["in_flight"].get<size_t>(), kind, cost["ops_per_s"].get<double>(),
                    cost["find_requests_per_op"].get<double>(), cost["cpu_us_per_op"].get<double>(),
                    cost["node0_thread_cpu_us_per_op"].get<double>(),
                    static_cast<unsigned long long>(cost["udp_receive_buffer_drops"].get<uint64_t>()));
      }
    }
  }
  std::printf("\n%6s %8s %14s %12s %12s\n", "nodes", "join s", "rt of node 0", "get rounds", "finds/get");
  for (const json& run : runs) {
    std::printf("%6zu %8.2f %14zu %12.2f %12.2f\n", run["nodes"].get<size_t>(), run["join_s"].get<double>(),
                run["routing_table_size_of_node_0"].get<size_t>(), run["get_remote_rounds_mean"].get<double>(),
                run["get_remote_requests_mean"].get<double>());
  }
  std::fflush(stdout);
}

}  // namespace hive::dht_bench
