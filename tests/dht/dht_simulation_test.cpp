// The 10,000-node DHT simulation: the real DhtNode code on a simulated network in one process
// (tests/dht/sim). Every run is seeded; the reports are printed so a reader sees the numbers
// behind the assertions (and the wall time, which is the only thing that varies).
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/dht/sim/dht_scenarios.h"

namespace hive::dht::sim {
namespace {

// The scale in optimized builds (the default and release presets): 10,000 nodes, 1,000
// keys, 1% of the nodes replaced per minute. Unoptimized builds (Debug, and the asan preset,
// which adds AddressSanitizer to Debug) spend 0.4 ms (0.8 ms under ASan) of CPU per simulated
// RPC, most of it in the nodes' message codec, and a join alone costs about 30 RPCs; the tsan
// preset slows every RPC down as much, for nothing (the simulation has one thread). They run
// 500 nodes, with churn ten times harsher so that a few dozen of them are still replaced.
struct Scale {
  size_t nodes;
  size_t keys;                          // stored, then read, in the first scenario
  size_t churn_keys;                    // announced during churn
  double replaced_per_minute;           // fraction of the nodes
  std::chrono::seconds churn_duration;  // of gets under churn
};
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
constexpr Scale kScale{10'000, 1'000, 200, 0.01, std::chrono::seconds(300)};
#else
constexpr Scale kScale{500, 100, 50, 0.10, std::chrono::seconds(150)};
#endif

TEST(DhtSimulation, EveryStoredKeyIsFoundByAnotherNodeInFewRounds) {
  JoinStoreGetConfig config;
  config.nodes = kScale.nodes;
  config.keys = kScale.keys;
  config.seed = 1;
  config.late_joiners = kScale.nodes / 10;
  const JoinStoreGetReport report = run_join_store_get(config);
  std::printf("%s", describe(report).c_str());

  EXPECT_EQ(report.nodes, kScale.nodes + config.late_joiners);
  EXPECT_EQ(report.stores.ok, config.keys);
  // Every copy on the key's true nearest nodes (brute force over the swarm): the store's
  // lookup, which ends once the `replicas` nearest have answered, found exactly them.
  EXPECT_EQ(report.copies_on_nearest.count, config.keys);
  EXPECT_EQ(report.copies_on_nearest.mean, static_cast<double>(config.node.replicas));
  // After 10% more nodes joined (a newcomer is among the nearest of about a third of the keys):
  // every newcomer that became one of a key's nearest nodes was handed the key by the node
  // nearest to it (the join step), so the copies moved with the nearest set.
  EXPECT_EQ(report.copies_on_nearest_after_joins.count, config.keys);
  EXPECT_EQ(report.copies_on_nearest_after_joins.mean, static_cast<double>(config.node.replicas));
  EXPECT_EQ(report.gets.gets, config.keys);
  EXPECT_EQ(report.gets.found, config.keys);
  EXPECT_LE(report.gets.rounds.mean, 3.5);
}

TEST(DhtSimulation, GetsSucceedWhileNodesAreReplacedContinuously) {
  ChurnConfig config;
  config.nodes = kScale.nodes;
  config.keys = kScale.churn_keys;
  config.seed = 2;
  config.replaced_per_minute = kScale.replaced_per_minute;
  config.duration = kScale.churn_duration;
  const ChurnReport report = run_churn(config);
  std::printf("%s", describe(report).c_str());

  EXPECT_GT(report.replaced, 0u);
  EXPECT_GE(report.gets.gets + report.gets.abandoned, 1'000u);  // one every 100 ms
  EXPECT_EQ(report.gets.unfinished, 0u);
  EXPECT_GE(report.gets.success_rate(), 0.99);
}

TEST(DhtSimulation, SameSeedReplaysTheSameRun) {
  JoinStoreGetConfig config;
  config.nodes = 100;
  config.keys = 20;
  config.seed = 7;
  const JoinStoreGetReport first = run_join_store_get(config);
  const JoinStoreGetReport second = run_join_store_get(config);
  EXPECT_EQ(first.network.calls, second.network.calls);
  EXPECT_EQ(first.network.datagrams_sent, second.network.datagrams_sent);
  EXPECT_EQ(first.join_virtual_seconds, second.join_virtual_seconds);
  EXPECT_EQ(first.gets.rounds.mean, second.gets.rounds.mean);
  EXPECT_EQ(first.gets.requests.mean, second.gets.requests.mean);
}

}  // namespace
}  // namespace hive::dht::sim
