// Steps the DHT scenarios share: joining a swarm, the values they store, and what they read
// off the nodes at the end.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dht/node/dht_node.h"
#include "tests/dht/sim/operation_tally.h"
#include "tests/dht/sim/simulated_swarm.h"

namespace hive::dht::sim {

using WallClock = std::chrono::steady_clock;
double seconds_since(WallClock::time_point start);

// Virtual time to wait for stragglers: past any RPC timeout and any lookup's worth of them.
inline constexpr std::chrono::microseconds kGrace = std::chrono::seconds(120);

// The value stored under key number `key`.
Bytes value_of(size_t key);

// Starts `nodes` nodes `interval` apart and runs until every one of them finished joining.
// Returns the virtual seconds that took.
double join(SimulatedSwarm& swarm, size_t nodes, std::chrono::microseconds interval);

SwarmOptions swarm_options(uint64_t seed, const NetworkOptions& network, const DhtNodeOptions& node);

// Summed over the live nodes.
DhtNodeStats node_stats_of(SimulatedSwarm& swarm);
// Entries per live node.
Distribution routing_table_sizes_of(SimulatedSwarm& swarm);
// Per key, how many of the `replicas` joined nodes nearest to it (by brute force over all of
// them) hold it in their storage: where a perfect store would have put every copy.
Distribution copies_on_nearest_of(SimulatedSwarm& swarm, const std::vector<DhtId>& keys, size_t replicas);

}  // namespace hive::dht::sim
