#include "tests/dht/sim/scenario_steps.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hive::dht::sim {

double seconds_since(WallClock::time_point start) {
  return std::chrono::duration<double>(WallClock::now() - start).count();
}

Bytes value_of(size_t key) {
  const std::string text = "value-" + std::to_string(key);
  Bytes value;
  for (char c : text) value.push_back(static_cast<std::byte>(c));
  return value;
}

double join(SimulatedSwarm& swarm, size_t nodes, std::chrono::microseconds interval) {
  VirtualTime& time = swarm.time();
  const std::chrono::microseconds start = time.now();
  // Shared: a join that outlasts the wait still counts into it later.
  auto finished = std::make_shared<size_t>(0);
  for (size_t i = 0; i < nodes; ++i) {
    time.post(interval * static_cast<int64_t>(i), [&swarm, finished] {
      swarm.start_node([finished](MemberId, net::Status) { ++*finished; });
    });
  }
  time.run_until(start + interval * static_cast<int64_t>(nodes) + kGrace, [&] { return *finished == nodes; });
  return std::chrono::duration<double>(time.now() - start).count();
}

SwarmOptions swarm_options(uint64_t seed, const NetworkOptions& network, const DhtNodeOptions& node) {
  SwarmOptions options;
  options.seed = seed;
  options.network = network;
  options.node = node;
  return options;
}

DhtNodeStats node_stats_of(SimulatedSwarm& swarm) {
  DhtNodeStats total;
  for (MemberId member = 0; member < swarm.started(); ++member) {
    if (!swarm.alive(member)) continue;
    const DhtNodeStats& stats = swarm.node(member).stats();
    total.gets += stats.gets;
    total.gets_answered_locally += stats.gets_answered_locally;
    total.gets_sharing_a_lookup += stats.gets_sharing_a_lookup;
    total.lookups += stats.lookups;
    total.lookup_requests += stats.lookup_requests;
    total.stores += stats.stores;
    total.cache_refreshes += stats.cache_refreshes;
    total.bucket_refreshes += stats.bucket_refreshes;
    total.handoffs += stats.handoffs;
    total.handed_off_items += stats.handed_off_items;
  }
  return total;
}

Distribution routing_table_sizes_of(SimulatedSwarm& swarm) {
  std::vector<double> sizes;
  for (MemberId member = 0; member < swarm.started(); ++member) {
    if (swarm.alive(member)) sizes.push_back(static_cast<double>(swarm.node(member).protocol().routing_table().size()));
  }
  return distribution_of(std::move(sizes));
}

Distribution copies_on_nearest_of(SimulatedSwarm& swarm, const std::vector<DhtId>& keys, size_t replicas) {
  std::vector<MemberId> joined;
  for (MemberId member = 0; member < swarm.started(); ++member) {
    if (swarm.joined().contains(member)) joined.push_back(member);
  }
  std::vector<double> copies;
  for (const DhtId& key : keys) {
    const size_t nearest = std::min(replicas, joined.size());
    std::partial_sort(joined.begin(), joined.begin() + static_cast<std::ptrdiff_t>(nearest), joined.end(),
                      [&](MemberId a, MemberId b) {
                        return (swarm.node(a).self().id ^ key) < (swarm.node(b).self().id ^ key);
                      });
    double held = 0;
    for (size_t i = 0; i < nearest; ++i) held += swarm.node(joined[i]).protocol().storage().get(key) ? 1 : 0;
    copies.push_back(held);
  }
  return distribution_of(std::move(copies));
}

}  // namespace hive::dht::sim
