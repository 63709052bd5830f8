// The DHT simulation's scenarios, shared by tests/dht/dht_simulation_test.cpp (which asserts on
// their reports) and bench/dht_simulation.cpp (which tabulates them):
//  - JoinStoreGet: N nodes join one after another (joins overlap), K random keys are stored
//    from random nodes, optionally more nodes join, then each key is read by another random
//    node.
//  - Churn: N nodes join; K keys are announced by their owners every announce period (as
//    hivemind's servers re-declare their experts) while nodes are killed and replaced at a
//    steady rate and random nodes keep reading random announced keys.
// Everything is seeded; only the wall times differ between two runs.
//
// Both run the nodes with DhtNodeOptions' defaults except for the bucket refresh period, which
// is an hour here (Kademlia's tRefresh) rather than a minute: at a minute, refresh lookups are
// most of the traffic (measured in a 1,000-node churn run: about 1.6 refresh lookups per node
// per minute, which tripled the run's RPCs), and at 10,000 nodes they would dominate the run
// time. Runs are shorter than an hour, so no bucket is refreshed; lookups
// refresh the buckets they pass through as usual.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dht/node/dht_node.h"
#include "tests/dht/sim/operation_tally.h"
#include "tests/dht/sim/simulated_network.h"

namespace hive::dht::sim {

// DhtNodeOptions' defaults, with an hour between bucket refreshes (see above).
inline DhtNodeOptions simulated_node_options() {
  DhtNodeOptions options;
  options.bucket_refresh_period_ms = 3'600'000;
  return options;
}

struct JoinStoreGetConfig {
  size_t nodes = 10'000;
  size_t keys = 1'000;
  uint64_t seed = 1;
  std::chrono::microseconds join_interval{10'000};  // a node starts joining this often
  std::chrono::microseconds operation_interval{10'000};  // a store (then a get) starts this often
  std::chrono::seconds expiration{3600};
  size_t late_joiners = 0;  // nodes that join after the stores, before the gets
  NetworkOptions network;
  DhtNodeOptions node = simulated_node_options();
};

struct JoinStoreGetReport {
  size_t nodes = 0;
  size_t failed_bootstraps = 0;
  double join_virtual_seconds = 0;  // from the first node's start to the last one's join
  StoreReport stores;
  // Per key, copies held by the `replicas` nodes nearest to it, after the stores.
  Distribution copies_on_nearest;
  // The same once the late joiners have joined (empty without them): the nearest nodes are now
  // partly newcomers, which hold a key only if a node handed it to them (DhtNode's join step).
  Distribution copies_on_nearest_after_joins;
  GetReport gets;
  NetworkStats network;
  DhtNodeStats node_stats;  // summed over the nodes alive at the end
  Distribution routing_table_sizes;  // entries per node at the end
  double join_wall_seconds = 0;
  double wall_seconds = 0;  // the whole scenario
};

JoinStoreGetReport run_join_store_get(const JoinStoreGetConfig& config);

struct ChurnConfig {
  size_t nodes = 10'000;
  size_t keys = 200;  // each announced every announce period: announces cost a lookup each
  uint64_t seed = 2;
  std::chrono::microseconds join_interval{10'000};
  // Fraction of the nodes killed (each replaced by a new node) per simulated minute.
  double replaced_per_minute = 0.01;
  std::chrono::seconds announce_period{30};  // hivemind's default update period
  std::chrono::seconds expiration{60};       // twice the announce period
  std::chrono::seconds warmup{60};     // announces (and churn) before the first get
  std::chrono::seconds duration{300};  // of churn and gets after the warm-up
  std::chrono::microseconds get_interval{100'000};
  NetworkOptions network;
  DhtNodeOptions node = simulated_node_options();
};

struct ChurnReport {
  size_t nodes = 0;
  size_t replaced = 0;
  size_t failed_bootstraps = 0;
  StoreReport announces;
  GetReport gets;
  NetworkStats network;
  DhtNodeStats node_stats;  // summed over the nodes alive at the end
  Distribution routing_table_sizes;  // entries per node at the end
  double wall_seconds = 0;  // the whole scenario, joins included
  double churn_wall_seconds = 0;
};

ChurnReport run_churn(const ChurnConfig& config);

// A few lines a person can read.
std::string describe(const JoinStoreGetReport& report);
std::string describe(const ChurnReport& report);

}  // namespace hive::dht::sim
