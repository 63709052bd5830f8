#include "bench/dht_bench/scenarios.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/core/check.h"

namespace hive::dht_bench {
namespace {

// Kills the doomed peers at the rounds drawn for them (hivemind's NodeKiller): rounds are counted
// over all workers, one tick after each round's stores.
class NodeKiller {
 public:
  NodeKiller(Swarm& swarm, std::vector<size_t> victims, std::vector<size_t> at_rounds)
      : swarm_(swarm), victims_(std::move(victims)), at_rounds_(std::move(at_rounds)) {}

  void tick(SteadyClock::time_point run_start) {
    std::lock_guard lock(mutex_);
    if (next_ < at_rounds_.size() && round_ == at_rounds_[next_]) {
      const size_t victim = victims_[next_];
      swarm_.kill(victim);
      kills_.push_back({{"peer", victim}, {"after_round", round_}, {"at_s", elapsed_s(run_start)}});
      ++next_;
    }
    ++round_;
  }
  json kills() const { return kills_; }

 private:
  Swarm& swarm_;
  std::vector<size_t> victims_;
  std::vector<size_t> at_rounds_;
  std::mutex mutex_;
  size_t next_ = 0;
  size_t round_ = 0;
  json kills_ = json::array();
};

struct WorkerTotals {
  std::vector<double> store_s;  // per round: 8 stores at once
  std::vector<double> get_s;    // per round: 8 gets at once
  std::vector<double> round_start_s;  // since the run's start
  size_t stores = 0, stores_ok = 0, gets = 0, gets_ok = 0;
  size_t gets_missing = 0;      // no record, or not a dictionary
  size_t gets_wrong = 0;        // a dictionary lacking a stored subkey, with a wrong value, or extra
  size_t replicas_stored = 0;   // over all stores: nodes that took the subkey
  size_t replica_failures = 0;  // over all stores: nodes that did not answer
};

void hivemind_worker(Swarm& swarm, const std::vector<size_t>& peers, const BenchOptions& options,
                     NodeKiller& killer, SteadyClock::time_point run_start, uint64_t seed, WorkerTotals& out) {
  std::mt19937_64 random(seed);
  hive::dht::SystemClock clock;
  for (size_t round = 0; round < options.rounds; ++round) {
    const std::string key = random_hex(random, 16);
    const std::vector<size_t> store_peers = sample(peers, options.store_peers, random);
    std::vector<std::pair<std::string, std::string>> entries;  // (subkey, value) per store peer
    for (size_t i = 0; i < store_peers.size(); ++i) entries.emplace_back(random_hex(random, 16), random_hex(random, 16));

    const auto store_start = SteadyClock::now();
    out.round_start_s.push_back(Seconds(store_start - run_start).count());
    std::vector<std::future<StoreResult>> stores;
    const DhtTime expiration = clock.now() + static_cast<DhtTime>(options.expiration_s * 1000);
    for (size_t i = 0; i < store_peers.size(); ++i) {
      stores.push_back(swarm.runner(store_peers[i]).store(key, bytes_of(entries[i].second), expiration,
                                                          bytes_of(entries[i].first)));
    }
    std::map<std::string, std::string> expected;  // the subkeys whose store succeeded
    for (size_t i = 0; i < stores.size(); ++i) {
      const StoreResult result = await(stores[i], "store");
      out.replicas_stored += result.stored;
      out.replica_failures += result.failed;
      if (result.ok()) expected.emplace(entries[i]);
    }
    out.store_s.push_back(elapsed_s(store_start));
    out.stores += stores.size();
    out.stores_ok += expected.size();
    killer.tick(run_start);

    const std::vector<size_t> get_peers = sample(peers, options.get_peers, random);
    const auto get_start = SteadyClock::now();
    std::vector<std::future<GetResult>> gets;
    for (size_t peer : get_peers) gets.push_back(swarm.runner(peer).get(key, get_options(options.latest)));
    std::vector<GetResult> results;
    for (auto& get : gets) results.push_back(await(get, "get"));
    out.get_s.push_back(elapsed_s(get_start));
    out.gets += results.size();
    for (const GetResult& result : results) {
      if (!result.record || !result.record->is_dictionary()) {
        ++out.gets_missing;
        continue;
      }
      const auto& dictionary = result.record->dictionary();
      bool right = dictionary.size() == expected.size();
      for (const auto& [subkey, value] : expected) {
        const auto found = dictionary.find(bytes_of(subkey));
        right = right && found != dictionary.end() && found->second.value == bytes_of(value);
      }
      right ? ++out.gets_ok : ++out.gets_wrong;
    }
  }
}

}  // namespace

json run_hivemind(const BenchOptions& options) {
  HIVE_NET_CHECK(options.peers >= 2, "--peers must be at least 2, got ", options.peers);
  ensure_file_limit(options.peers);
  std::mt19937_64 random(options.seed);
  DhtNodeOptions node_options;
  Swarm swarm(std::min(options.loops, options.peers), node_options);
  for (size_t i = 0; i < options.peers; ++i) swarm.add(i % swarm.loops());
  const auto join_start = SteadyClock::now();
  join(swarm, options.initial_peers, 1, random);  // one by one, as hivemind creates its peers
  const double join_s = elapsed_s(join_start);

  // hivemind draws int(rate * peers) victims (1 of 16); rounding draws 2, so at least 10% die.
  const auto killed = static_cast<size_t>(std::lround(options.failure_rate * static_cast<double>(options.peers)));
  HIVE_NET_CHECK(killed < options.peers, "--failure-rate ", options.failure_rate, " would kill every peer");
  std::vector<size_t> everyone(options.peers);
  std::iota(everyone.begin(), everyone.end(), size_t{0});
  const std::vector<size_t> victims = sample(everyone, killed, random);
  std::vector<size_t> survivors;
  for (size_t peer : everyone) {
    if (std::find(victims.begin(), victims.end(), peer) == victims.end()) survivors.push_back(peer);
  }
  std::vector<size_t> all_rounds(options.workers * options.rounds);
  std::iota(all_rounds.begin(), all_rounds.end(), size_t{0});
  std::vector<size_t> kill_rounds = sample(all_rounds, victims.size(), random);
  std::sort(kill_rounds.begin(), kill_rounds.end());
  NodeKiller killer(swarm, victims, kill_rounds);

  std::vector<WorkerTotals> totals(options.workers);
  std::vector<std::thread> workers;
  const uint64_t drops_before = udp_receive_buffer_errors();
  const double cpu_before = process_cpu_us();
  const auto run_start = SteadyClock::now();
  for (size_t w = 0; w < options.workers; ++w) {
    workers.emplace_back(hivemind_worker, std::ref(swarm), std::cref(survivors), std::cref(options),
                         std::ref(killer), run_start, options.seed * 1000 + w, std::ref(totals[w]));
  }
  for (auto& worker : workers) worker.join();
  const double total_s = elapsed_s(run_start);
  const double cpu_s = (process_cpu_us() - cpu_before) / 1e6;
  const uint64_t drops = udp_receive_buffer_errors() - drops_before;

  WorkerTotals all;
  json rounds = json::array();  // every round: [start s, store s, get s], in start order
  for (const WorkerTotals& t : totals) {
    for (size_t r = 0; r < t.store_s.size(); ++r) rounds.push_back({t.round_start_s[r], t.store_s[r], t.get_s[r]});
    all.store_s.insert(all.store_s.end(), t.store_s.begin(), t.store_s.end());
    all.get_s.insert(all.get_s.end(), t.get_s.begin(), t.get_s.end());
    all.stores += t.stores;
    all.stores_ok += t.stores_ok;
    all.gets += t.gets;
    all.gets_ok += t.gets_ok;
    all.gets_missing += t.gets_missing;
    all.gets_wrong += t.gets_wrong;
    all.replicas_stored += t.replicas_stored;
    all.replica_failures += t.replica_failures;
  }
  size_t alive = 0;
  uint64_t calls_failed = 0;
  for (size_t peer = 0; peer < swarm.size(); ++peer) {
    if (!swarm.alive(peer)) continue;
    ++alive;
    calls_failed += swarm.runner(peer).snapshot().protocol.calls_failed;
  }
  std::sort(rounds.begin(), rounds.end());
  const Spread store = spread_of(all.store_s);
  const Spread get = spread_of(all.get_s);
  const double store_rate = static_cast<double>(all.stores_ok) / static_cast<double>(std::max<size_t>(all.stores, 1));
  const double get_rate = static_cast<double>(all.gets_ok) / static_cast<double>(std::max<size_t>(all.gets, 1));

  std::printf("\n== hivemind benchmark_dht workload: %zu peers (%zu I/O threads), %zu workers x %zu rounds, "
              "%zu store + %zu get peers per round, latest=%s, expiration %.0f s\n",
              options.peers, swarm.loops(), options.workers, options.rounds, options.store_peers,
              options.get_peers, options.latest ? "true" : "false", options.expiration_s);
  std::printf("joined in %.3f s; killed %zu peer(s) during the run:", join_s, victims.size());
  for (const auto& kill : killer.kills()) {
    std::printf(" peer %zu after round %zu (%.2f s)", kill["peer"].get<size_t>(), kill["after_round"].get<size_t>(),
                kill["at_s"].get<double>());
  }
  std::printf("\n%-28s %9s %9s %9s\n", "per round (8 ops at once)", "mean s", "std s", "max s");
  std::printf("%-28s %9.4f %9.4f %9.4f\n", "store wall time", store.mean, store.stddev, store.max);
  std::printf("%-28s %9.4f %9.4f %9.4f\n", "get wall time", get.mean, get.stddev, get.max);
  std::printf("average store time per worker: %.3f s, get: %.3f s; total benchmark time %.3f s\n",
              store.mean * static_cast<double>(options.rounds), get.mean * static_cast<double>(options.rounds), total_s);
  std::printf("store success rate: %.1f%% (%zu/%zu), replicas per store %.2f, replica calls failed %zu\n",
              100 * store_rate, all.stores_ok, all.stores,
              static_cast<double>(all.replicas_stored) / static_cast<double>(std::max<size_t>(all.stores, 1)),
              all.replica_failures);
  std::printf("get success rate: %.1f%% (%zu/%zu; %zu without the record, %zu incomplete or wrong)\n",
              100 * get_rate, all.gets_ok, all.gets, all.gets_missing, all.gets_wrong);
  std::printf("node survival rate: %.3f%% (%zu/%zu); failed DHT calls on surviving peers: %llu\n",
              100.0 * static_cast<double>(alive) / static_cast<double>(options.peers), alive, options.peers,
              static_cast<unsigned long long>(calls_failed));
  std::printf("process CPU %.2f s over the run; UDP receive-buffer overflows (system-wide) %llu\n", cpu_s,
              static_cast<unsigned long long>(drops));
  std::fflush(stdout);

  return {{"reference", "hivemind benchmarks/benchmark_dht.py (defaults: num_peers 16, initial_peers 4, "
                        "num_threads 10, total_num_rounds 16, num_store_peers 8, num_get_peers 8, "
                        "expiration 300, latest True, failure_rate 0.1, random_seed 30)"},
          {"peers", options.peers},
          {"initial_peers", options.initial_peers},
          {"io_threads", swarm.loops()},
          {"workers", options.workers},
          {"rounds_per_worker", options.rounds},
          {"store_peers_per_round", options.store_peers},
          {"get_peers_per_round", options.get_peers},
          {"latest", options.latest},
          {"expiration_s", options.expiration_s},
          {"failure_rate", options.failure_rate},
          {"seed", options.seed},
          {"rpc_timeout_ms", node_options.protocol.rpc_timeout.count()},
          {"join_s", join_s},
          {"killed", killer.kills()},
          {"store_wall_time_s", to_json(store)},
          {"get_wall_time_s", to_json(get)},
          {"store_time_per_worker_s", store.mean * static_cast<double>(options.rounds)},
          {"get_time_per_worker_s", get.mean * static_cast<double>(options.rounds)},
          {"total_time_s", total_s},
          {"stores", all.stores},
          {"stores_ok", all.stores_ok},
          {"store_success_rate", store_rate},
          {"replicas_per_store", static_cast<double>(all.replicas_stored) / static_cast<double>(std::max<size_t>(all.stores, 1))},
          {"replica_calls_failed", all.replica_failures},
          {"gets", all.gets},
          {"gets_ok", all.gets_ok},
          {"gets_without_record", all.gets_missing},
          {"gets_incomplete_or_wrong", all.gets_wrong},
          {"get_success_rate", get_rate},
          {"node_survival_rate", static_cast<double>(alive) / static_cast<double>(options.peers)},
          {"failed_calls_on_surviving_peers", calls_failed},
          {"process_cpu_s", cpu_s},
          {"udp_receive_buffer_drops", drops},
          {"rounds", std::move(rounds)}};
}

}  // namespace hive::dht_bench
