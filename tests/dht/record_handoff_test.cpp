// Kademlia's join step: which stored keys a node hands to a node that just entered its routing
// table, against brute force over the table's entries, and the records a DhtNode sends.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dht/node/record_handoff.h"

namespace hive::dht {
namespace {

net::SocketAddress loopback_port(size_t index) {
  auto parsed = net::SocketAddress::parse("127.0.0.1:" + std::to_string(1024 + index));
  EXPECT_TRUE(parsed.is_ok());
  return parsed.value();
}

std::vector<DhtId> entry_ids(const RoutingTable& table) {
  std::vector<DhtId> ids;
  for (size_t index = 0; index < table.bucket_count(); ++index) {
    for (const RoutingEntry& entry : table.bucket(index).entries()) ids.push_back(entry.id);
  }
  return ids;
}

// Kademlia's rule spelled out: over the table's nodes and this one, sorted by distance to the
// key, this node comes first once the newcomer is left out, and the newcomer is among the first
// `replicas`.
bool brute_force_hands_off(const RoutingTable& table, const DhtId& key, const DhtId& newcomer,
                           size_t replicas) {
  std::vector<DhtId> nodes = entry_ids(table);
  nodes.push_back(table.node_id());
  std::sort(nodes.begin(), nodes.end(),
            [&](const DhtId& a, const DhtId& b) { return (a ^ key) < (b ^ key); });
  const auto newcomer_at = std::find(nodes.begin(), nodes.end(), newcomer);
  if (newcomer_at == nodes.end() || newcomer_at - nodes.begin() >= static_cast<std::ptrdiff_t>(replicas)) {
    return false;
  }
  const DhtId nearest_other = nodes[0] == newcomer ? nodes[1] : nodes[0];
  return nearest_other == table.node_id();
}

TEST(RecordHandoff, KeysHandedToANewcomerEqualBruteForce) {
  RandomSource random(11);
  size_t handed_off = 0;
  size_t checked = 0;
  for (size_t trial = 0; trial < 40; ++trial) {
    const size_t bucket_size = trial % 2 == 0 ? 20 : 4;  // small buckets: full far buckets
    RoutingTable table(DhtId::random(random), 0, bucket_size);
    const size_t others = 5 + random.below(300);
    for (size_t i = 0; i < others; ++i) {
      (void)table.add_or_update(DhtId::random(random), loopback_port(i), 0);
    }
    // A newcomer near this node in half the trials: then it is among the nearest of many keys.
    const DhtId newcomer = trial % 2 == 0 ? DhtId::random_with_prefix(table.node_id(), 6 + random.below(10), random)
                                          : DhtId::random(random);
    if (table.add_or_update(newcomer, loopback_port(others), 0).outcome != AddOutcome::kAdded) continue;
    std::vector<DhtId> keys;
    for (size_t i = 0; i < 400; ++i) {
      // Keys this node may be nearest to, and random ones.
      keys.push_back(i % 2 == 0 ? DhtId::random_with_prefix(table.node_id(), random.below(24), random)
                                : DhtId::random(random));
    }
    for (size_t replicas : {1, 2, 5}) {
      std::vector<DhtId> expected;
      for (const DhtId& key : keys) {
        if (brute_force_hands_off(table, key, newcomer, replicas)) expected.push_back(key);
      }
      EXPECT_EQ(keys_to_hand_off(table, keys, newcomer, replicas), expected)
          << "trial " << trial << ", replicas " << replicas;
      handed_off += expected.size();
      checked += keys.size();
    }
  }
  // The oracle must have had both answers to give, many times.
  EXPECT_GT(handed_off, 500u);
  EXPECT_LT(handed_off, checked / 2);
}

TEST(RecordHandoff, NothingForANodeNotInTheTableOrForZeroReplicas) {
  RandomSource random(3);
  RoutingTable table(DhtId::random(random), 0);
  const DhtId known = DhtId::random(random);
  (void)table.add_or_update(known, loopback_port(0), 0);
  const std::vector<DhtId> keys{known, table.node_id()};
  EXPECT_TRUE(keys_to_hand_off(table, keys, DhtId::random(random), 5).empty());
  EXPECT_TRUE(keys_to_hand_off(table, keys, known, 0).empty());
  // The newcomer's own id as a key: it is the nearest, this node the next.
  EXPECT_EQ(keys_to_hand_off(table, keys, known, 5), (std::vector<DhtId>{known, table.node_id()}));
}

}  // namespace
}  // namespace hive::dht
