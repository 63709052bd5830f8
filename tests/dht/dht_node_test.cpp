// DhtNode over real UDP sockets on loopback, through DhtRunner: bootstrap (and its error when no
// initial peer answers), store to the nearest nodes and get from any node, crawling for the
// latest dictionary, the local cache, and concurrent gets of one key sharing one lookup.
#include <chrono>
#include <string>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "dht/node/dht_runner.h"
#include "dht/ownership/owner.h"
#include "tests/dht/dht_test_util.h"
#include "tests/net/net_test_util.h"

namespace hive::dht {
namespace {

using namespace std::chrono_literals;
using net::testing::identity_from_seed;
using testing::bytes;

struct Node {
  Node(net::EventLoop& loop, uint8_t seed, DhtNodeOptions options)
      : endpoint(loop, identity_from_seed(seed)),
        address(endpoint.listen("127.0.0.1:0").value()),
        runner(endpoint, address, std::move(options)) {}

  net::Endpoint endpoint;
  net::SocketAddress address;
  DhtRunner runner;
};

class DhtNodeTest : public ::testing::Test {
 protected:
  static constexpr size_t kNodes = 12;

  void SetUp() override {
    for (size_t i = 0; i < kNodes; ++i) {
      nodes_.push_back(std::make_unique<Node>(loop_, static_cast<uint8_t>(i + 1), options()));
      std::vector<net::SocketAddress> initial;
      if (i > 0) initial.push_back(nodes_[i / 2]->address);
      net::Status status = nodes_.back()->runner.bootstrap(initial).get();
      ASSERT_TRUE(status.is_ok()) << status.to_string();
    }
  }

  static DhtNodeOptions options() { return DhtNodeOptions{}; }

  DhtTime in_a_minute() { return nodes_[0]->runner.clock().now() + 60'000; }

  net::EventLoop loop_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(DhtNodeTest, ValueStoredFromOneNodeIsFoundFromEveryOther) {
  const DhtTime expiration = in_a_minute();
  StoreResult stored = nodes_[3]->runner.store("ffn.3.17", bytes("peer-3"), expiration).get();
  EXPECT_TRUE(stored.ok());
  EXPECT_EQ(stored.stored, 5u) << "each value goes to the 5 nearest nodes";
  EXPECT_EQ(stored.failed, 0u);
  for (size_t i = 0; i < kNodes; ++i) {
    GetResult found = nodes_[i]->runner.get("ffn.3.17").get();
    ASSERT_TRUE(found.record.has_value()) << "node " << i;
    EXPECT_EQ(found.record->plain(), bytes("peer-3"));
    EXPECT_EQ(found.record->expiration, expiration);
  }
}

TEST_F(DhtNodeTest, AbsentKeyIsNotFoundAfterAskingTheNearestNodes) {
  GetResult found = nodes_[5]->runner.get("nobody stored this").get();
  EXPECT_FALSE(found.record.has_value());
  EXPECT_GT(found.requests, 0u);
}

TEST_F(DhtNodeTest, LaterExpirationWinsAndAnEarlierStoreIsReportedNotNewer) {
  const DhtTime later = in_a_minute();
  ASSERT_TRUE(nodes_[1]->runner.store("k", bytes("new"), later).get().ok());
  StoreResult stale = nodes_[2]->runner.store("k", bytes("old"), later - 10'000).get();
  EXPECT_FALSE(stale.ok());
  EXPECT_EQ(stale.not_newer, 5u);
  GetResult found = nodes_[7]->runner.get("k", GetOptions{true, std::nullopt, std::nullopt}).get();
  ASSERT_TRUE(found.record.has_value());
  EXPECT_EQ(found.record->plain(), bytes("new"));
}

TEST_F(DhtNodeTest, LatestGetMergesSubkeysStoredByDifferentNodes) {
  const DhtTime expiration = in_a_minute();
  ASSERT_TRUE(nodes_[1]->runner.store("ffn.3.", bytes("a"), expiration, bytes("17")).get().ok());
  ASSERT_TRUE(nodes_[2]->runner.store("ffn.3.", bytes("b"), expiration + 1, bytes("20")).get().ok());
  GetResult found = nodes_[9]->runner.get("ffn.3.", GetOptions{true, std::nullopt, std::nullopt}).get();
  ASSERT_TRUE(found.record.has_value());
  ASSERT_TRUE(found.record->is_dictionary());
  const Dictionary& subkeys = found.record->dictionary();
  ASSERT_EQ(subkeys.size(), 2u);
  EXPECT_EQ(subkeys.at(bytes("17")).value, bytes("a"));
  EXPECT_EQ(subkeys.at(bytes("20")).value, bytes("b"));
  EXPECT_EQ(found.record->expiration, expiration + 1);
}

TEST_F(DhtNodeTest, FoundValueIsCachedSoTheNextGetIsLocal) {
  ASSERT_TRUE(nodes_[0]->runner.store("cached", bytes("v"), in_a_minute()).get().ok());
  // A node that holds no replica looks it up once, then answers from its cache.
  for (size_t i = 0; i < kNodes; ++i) {
    GetResult first = nodes_[i]->runner.get("cached").get();
    ASSERT_TRUE(first.record.has_value());
    if (first.local) continue;  // one of the replicas
    GetResult second = nodes_[i]->runner.get("cached").get();
    ASSERT_TRUE(second.record.has_value());
    EXPECT_TRUE(second.local) << "node " << i;
    EXPECT_EQ(second.requests, 0u);
    return;
  }
  FAIL() << "every node held a replica";
}

TEST_F(DhtNodeTest, ConcurrentGetsOfOneKeyShareOneLookup) {
  ASSERT_TRUE(nodes_[0]->runner.store("shared", bytes("v"), in_a_minute()).get().ok());
  // Find a node that must look it up.
  for (size_t i = 0; i < kNodes; ++i) {
    DhtRunner& runner = nodes_[i]->runner;
    if (runner.snapshot().storage.records > 0) continue;
    const DhtNodeStats before = runner.snapshot().node;
    std::vector<std::future<GetResult>> gets;
    // Posted back to back, they reach the I/O thread before the first lookup can finish.
    loop_.run_sync([&] {
      for (int j = 0; j < 4; ++j) gets.push_back(runner.get("shared"));
    });
    for (auto& get : gets) EXPECT_TRUE(get.get().record.has_value());
    const DhtNodeStats after = runner.snapshot().node;
    EXPECT_EQ(after.lookups - before.lookups, 1u);
    EXPECT_EQ(after.gets_sharing_a_lookup - before.gets_sharing_a_lookup, 3u);
    return;
  }
  FAIL() << "every node held a replica";
}

TEST_F(DhtNodeTest, DictionaryWith400SubkeysIsStoredAndFoundWhole) {
  // Too big for one datagram either way: the store and the find answers move to TCP.
  const DhtTime expiration = in_a_minute();
  std::vector<StoreItem> items;
  for (int i = 0; i < 400; ++i) {
    items.push_back(StoreItem{DhtId::of_key("ffn."), bytes(std::to_string(i)),
                              bytes("peer-" + std::to_string(i % 7)), expiration + i, std::nullopt});
  }
  std::vector<StoreResult> stored = nodes_[4]->runner.store(items).get();
  ASSERT_EQ(stored.size(), 400u);
  for (const StoreResult& result : stored) EXPECT_EQ(result.stored, 5u);
  GetResult found = nodes_[10]->runner.get("ffn.", GetOptions{true, std::nullopt, std::nullopt}).get();
  ASSERT_TRUE(found.record.has_value());
  const Dictionary& subkeys = found.record->dictionary();
  ASSERT_EQ(subkeys.size(), 400u);
  EXPECT_EQ(subkeys.at(bytes("123")).value, bytes("peer-4"));
  EXPECT_EQ(subkeys.at(bytes("123")).expiration, expiration + 123);
}

TEST_F(DhtNodeTest, OwnedKeyAndSubkeyTakeOnlyTheOwnersSignedStores) {
  const DhtTime expiration = in_a_minute();
  Node& owner = *nodes_[2];
  Node& other = *nodes_[6];
  const std::string owned_key = "expert-info" + owner_marker(owner.endpoint.identity().public_key());
  ASSERT_TRUE(owner.runner.store(owned_key, bytes("by the owner"), expiration).get().ok());
  StoreResult forged = other.runner.store(owned_key, bytes("forged"), expiration + 1000).get();
  EXPECT_FALSE(forged.ok());
  EXPECT_EQ(forged.refused, 5u);

  const Bytes owned_subkey = bytes(owner_marker(owner.endpoint.identity().public_key()));
  ASSERT_TRUE(owner.runner.store("ffn.", bytes("owner's"), expiration, owned_subkey).get().ok());
  EXPECT_EQ(other.runner.store("ffn.", bytes("forged"), expiration + 1000, owned_subkey).get().refused, 5u);

  for (Node* reader : {nodes_[9].get(), nodes_[11].get()}) {
    GetResult key = reader->runner.get(owned_key, GetOptions{true, std::nullopt, std::nullopt}).get();
    ASSERT_TRUE(key.record.has_value());
    EXPECT_EQ(key.record->plain(), bytes("by the owner"));
    GetResult subkey = reader->runner.get("ffn.", GetOptions{true, std::nullopt, std::nullopt}).get();
    ASSERT_TRUE(subkey.record.has_value());
    EXPECT_EQ(subkey.record->dictionary().at(owned_subkey).value, bytes("owner's"));
  }
}

TEST(DhtNodeBootstrap, FailsWithAClearErrorWhenNoInitialPeerAnswers) {
  net::EventLoop loop;
  DhtNodeOptions options;
  options.protocol.rpc_timeout = 300ms;
  // A port nobody listens on: bind one, then close it.
  net::SocketAddress silent = [&] {
    net::Endpoint gone(loop, identity_from_seed(90));
    return gone.listen("127.0.0.1:0").value();
  }();
  Node node(loop, 91, options);
  net::Status status = node.runner.bootstrap({silent}).get();
  EXPECT_EQ(status.code(), net::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(silent.to_string()), std::string::npos) << status.message();
}

}  // namespace
}  // namespace hive::dht
