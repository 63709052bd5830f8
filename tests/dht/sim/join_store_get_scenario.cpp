#include <chrono>
#include <utility>
#include <vector>

#include "tests/dht/sim/dht_scenarios.h"
#include "tests/dht/sim/scenario_steps.h"

namespace hive::dht::sim {

using std::chrono::microseconds;

JoinStoreGetReport run_join_store_get(const JoinStoreGetConfig& config) {
  const WallClock::time_point wall_start = WallClock::now();
  JoinStoreGetReport report;
  SimulatedSwarm swarm(swarm_options(config.seed, config.network, config.node));
  VirtualTime& time = swarm.time();
  RandomSource& random = swarm.random();

  report.join_virtual_seconds = join(swarm, config.nodes, config.join_interval);
  report.nodes = swarm.joined().size();
  report.failed_bootstraps = swarm.failed_bootstraps();
  report.join_wall_seconds = seconds_since(wall_start);

  // Stores: each key from a random node, `operation_interval` apart.
  std::vector<DhtId> keys;
  std::vector<MemberId> storers;
  for (size_t i = 0; i < config.keys; ++i) {
    keys.push_back(DhtId::random(random));
    storers.push_back(swarm.joined().pick(random));
  }
  StoreTally stores;
  microseconds start = time.now();
  for (size_t i = 0; i < config.keys; ++i) {
    time.post(config.operation_interval * static_cast<int64_t>(i), [&, i] {
      StoreItem item{keys[i], std::nullopt, value_of(i),
                     swarm.network().clock().now() + std::chrono::milliseconds(config.expiration).count(),
                     std::nullopt};
      stores.start(storers[i]);
      swarm.node(storers[i]).store({std::move(item)},
                                   [&, i](std::vector<StoreResult> results) { stores.finish(storers[i], results); });
    });
  }
  const microseconds stores_end = start + config.operation_interval * static_cast<int64_t>(config.keys);
  time.run_until(stores_end + kGrace, [&] { return stores.report.stores == config.keys; });
  report.stores = stores.summarize();
  report.copies_on_nearest = copies_on_nearest_of(swarm, keys, config.node.replicas);
  if (config.late_joiners > 0) {
    join(swarm, config.late_joiners, config.join_interval);
    report.nodes = swarm.joined().size();
    report.failed_bootstraps = swarm.failed_bootstraps();
    report.copies_on_nearest_after_joins = copies_on_nearest_of(swarm, keys, config.node.replicas);
  }

  // Gets: each key by a random node other than the one that stored it.
  GetTally gets;
  start = time.now();
  for (size_t i = 0; i < config.keys; ++i) {
    MemberId getter = swarm.joined().pick(random);
    while (getter == storers[i]) getter = swarm.joined().pick(random);
    time.post(config.operation_interval * static_cast<int64_t>(i), [&, i, getter] {
      gets.start(getter);
      swarm.node(getter).get(keys[i], GetOptions{},
                             [&, i, getter](GetResult result) { gets.finish(getter, result, value_of(i)); });
    });
  }
  const microseconds gets_end = start + config.operation_interval * static_cast<int64_t>(config.keys);
  time.run_until(gets_end + kGrace, [&] { return gets.report.gets == config.keys; });
  report.gets = gets.summarize();
  report.network = swarm.network().stats();
  report.node_stats = node_stats_of(swarm);
  report.routing_table_sizes = routing_table_sizes_of(swarm);
  report.wall_seconds = seconds_since(wall_start);
  return report;
}

}  // namespace hive::dht::sim
