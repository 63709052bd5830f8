// DhtProtocol on real UDP sockets on loopback: ping, store and find between nodes, routing-table
// upkeep from requests and answers (a request's sender enters only once it answers a ping),
// forged senders, client mode, malformed requests, failed nodes dropped.
#include <chrono>
#include <functional>
#include <future>
#include <memory>

#include <gtest/gtest.h>

#include "dht/node/dht_protocol.h"
#include "dht/ownership/owner.h"
#include "dht/transport/endpoint_transport.h"
#include "dht/transport/loop_scheduler.h"
#include "tests/dht/dht_test_util.h"
#include "tests/net/net_test_util.h"

namespace hive::dht {
namespace {

using namespace std::chrono_literals;

constexpr DhtTime kStart = 1'700'000'000'000;

using net::testing::identity_from_seed;
using testing::bytes;

// One node: an endpoint on loopback and its protocol, created on the I/O thread.
struct TestNode {
  TestNode(net::EventLoop& loop, const Clock& clock, uint8_t seed, ProtocolOptions options = {})
      : endpoint(loop, identity_from_seed(seed)) {
    auto address = endpoint.listen("127.0.0.1:0");
    EXPECT_TRUE(address.is_ok());
    info = NodeInfo{DhtId::from_peer_id(endpoint.identity().peer_id()), address.value()};
    loop.run_sync([&] {
      scheduler = std::make_unique<LoopScheduler>(loop);
      protocol = std::make_unique<DhtProtocol>(transport, *scheduler, info, clock, options);
    });
  }
  ~TestNode() {
    endpoint.loop().run_sync([&] {
      protocol.reset();
      scheduler.reset();
    });
  }

  net::Endpoint endpoint;
  EndpointTransport transport{endpoint};
  std::unique_ptr<LoopScheduler> scheduler;
  NodeInfo info;
  std::unique_ptr<DhtProtocol> protocol;
};

class DhtProtocolTest : public ::testing::Test {
 protected:
  // Runs `start(callback)` on the I/O thread and waits for the callback's result.
  template <typename T, typename Start>
  net::Result<T> wait_for(Start start) {
    std::promise<net::Result<T>> result;
    loop_.run_sync([&] { start([&](net::Result<T> value) { result.set_value(std::move(value)); }); });
    return result.get_future().get();
  }

  bool knows(TestNode& node, const TestNode& other) {
    return loop_.run_sync([&] { return node.protocol->routing_table().find(other.info.id).has_value(); });
  }

  // Runs `action` and waits until `node` adds `id` to its routing table: the sender of a request
  // enters only once it has answered the ping that checks it, after the request's answer.
  void expect_added_after(TestNode& node, const DhtId& id, const std::function<void()>& action) {
    std::promise<void> added;
    loop_.run_sync([&] {
      node.protocol->on_node_added([&added, id, done = false](const NodeInfo& info) mutable {
        if (info.id != id || done) return;
        done = true;
        added.set_value();
      });
    });
    action();
    const bool in_time = added.get_future().wait_for(10s) == std::future_status::ready;
    loop_.run_sync([&] { node.protocol->on_node_added(nullptr); });
    ASSERT_TRUE(in_time) << "node " << id.to_hex() << " was never added";
  }

  void a_pings_b_and_b_adds_a() {
    expect_added_after(b_, a_.info.id, [&] {
      ASSERT_TRUE(wait_for<PingResponse>([&](auto done) { a_.protocol->call_ping(b_.info.address, done); }).is_ok());
    });
  }

  // A find request sent from `from`'s endpoint whose sender field claims `claimed`: what a
  // forger can put in a datagram.
  void send_find_claiming(TestNode& from, const NodeInfo& claimed, const TestNode& to) {
    std::promise<net::Result<net::Reply>> reply;
    loop_.run_sync([&] {
      net::Message request;
      request.metadata = encode_find_request(FindRequest{claimed, {DhtId::of_key("k")}});
      from.endpoint.call_datagram(to.info.address, std::string(kFindMethod), request, {},
                                  [&](net::Result<net::Reply> result) { reply.set_value(std::move(result)); });
    });
    ASSERT_TRUE(reply.get_future().get().is_ok());
  }

  ManualClock clock_{kStart};
  net::EventLoop loop_;
  TestNode a_{loop_, clock_, 1};
  TestNode b_{loop_, clock_, 2};
  TestNode c_{loop_, clock_, 3};
};

TEST_F(DhtProtocolTest, PingAddsCallerAndCalleeToEachOthersRoutingTables) {
  expect_added_after(b_, a_.info.id, [&] {
    auto pong = wait_for<PingResponse>([&](auto done) { a_.protocol->call_ping(b_.info.address, done); });
    ASSERT_TRUE(pong.is_ok()) << pong.status().to_string();
    EXPECT_EQ(pong.value().responder, b_.info);
    EXPECT_EQ(pong.value().dht_time, kStart);
    EXPECT_TRUE(knows(a_, b_));
  });
  EXPECT_TRUE(knows(b_, a_));
  EXPECT_EQ(loop_.run_sync([&] { return b_.protocol->stats().sender_checks; }), 1u);
}

TEST_F(DhtProtocolTest, SenderEntersUnderTheIdItAnswersWithNotTheOneItClaims) {
  const DhtId forged_id = DhtId::of_key("an id that no node has");
  // C's endpoint claims a made-up id at A's address; B checks the address the datagram came
  // from (C's), and C answers that ping with its own id.
  expect_added_after(b_, c_.info.id, [&] { send_find_claiming(c_, NodeInfo{forged_id, a_.info.address}, b_); });
  EXPECT_TRUE(knows(b_, c_));
  EXPECT_EQ(loop_.run_sync([&] { return b_.protocol->routing_table().find(c_.info.id)->address; }),
            c_.info.address);
  EXPECT_FALSE(loop_.run_sync([&] { return b_.protocol->routing_table().find(forged_id).has_value(); }));
  EXPECT_FALSE(knows(b_, a_));
}

TEST_F(DhtProtocolTest, KnownIdClaimedFromAnotherAddressKeepsItsAddress) {
  a_pings_b_and_b_adds_a();
  // C claims to be A: B pings C's address, which answers as C.
  expect_added_after(b_, c_.info.id, [&] { send_find_claiming(c_, a_.info, b_); });
  EXPECT_EQ(loop_.run_sync([&] { return b_.protocol->routing_table().find(a_.info.id)->address; }),
            a_.info.address);
  EXPECT_TRUE(knows(b_, c_));
}

TEST_F(DhtProtocolTest, StoredValueIsFoundByAnotherNodeWithNearestNodesButNotTheAsker) {
  a_pings_b_and_b_adds_a();
  const DhtId key = DhtId::of_key("ffn.3.");
  StoreItem item{key, std::nullopt, bytes("expert"), kStart + 60'000, std::nullopt};
  auto stored = wait_for<StoreResponse>([&](auto done) { a_.protocol->call_store(b_.info, {item}, false, done); });
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored.value().outcomes, std::vector<StoreItemOutcome>{StoreItemOutcome::kStored});

  auto found = wait_for<FindResponse>([&](auto done) { c_.protocol->call_find(b_.info, {key}, done); });
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  ASSERT_EQ(found.value().records.size(), 1u);
  const FoundRecord& record = found.value().records[0];
  ASSERT_TRUE(record.record.has_value());
  EXPECT_EQ(record.record->plain(), bytes("expert"));
  EXPECT_EQ(record.record->expiration, kStart + 60'000);
  // B knows A; C, which asked, is left out (and only being checked yet).
  ASSERT_EQ(record.nearest.size(), 1u);
  EXPECT_EQ(record.nearest[0], a_.info);
}

TEST_F(DhtProtocolTest, StoreOutcomesFollowExpirationRulesAndSubkeysFormADictionary) {
  const DhtId key = DhtId::of_key("ffn.");
  auto store = [&](std::optional<Bytes> subkey, std::string_view value, DhtTime expiration) {
    StoreItem item{key, std::move(subkey), bytes(value), expiration, std::nullopt};
    auto result = wait_for<StoreResponse>([&](auto done) { a_.protocol->call_store(b_.info, {item}, false, done); });
    EXPECT_TRUE(result.is_ok()) << result.status().to_string();
    return result.value().outcomes.at(0);
  };
  EXPECT_EQ(store(bytes("3"), "peer-a", kStart + 10'000), StoreItemOutcome::kStored);
  EXPECT_EQ(store(bytes("7"), "peer-b", kStart + 20'000), StoreItemOutcome::kStored);
  EXPECT_EQ(store(bytes("3"), "stale", kStart + 5'000), StoreItemOutcome::kNotNewer);
  EXPECT_EQ(store(bytes("9"), "expired", kStart - 1), StoreItemOutcome::kAlreadyExpired);

  auto found = wait_for<FindResponse>([&](auto done) { c_.protocol->call_find(b_.info, {key}, done); });
  ASSERT_TRUE(found.is_ok());
  const Record& record = *found.value().records.at(0).record;
  ASSERT_TRUE(record.is_dictionary());
  EXPECT_EQ(record.dictionary().size(), 2u);
  EXPECT_EQ(record.dictionary().at(bytes("3")).value, bytes("peer-a"));
  EXPECT_EQ(record.expiration, kStart + 20'000);
}

TEST_F(DhtProtocolTest, SignatureWithoutAnOwnerIsRefused) {
  StoreItem item{DhtId::of_key("unowned"), std::nullopt, bytes("x"), kStart + 1000, net::Signature{}};
  auto stored = wait_for<StoreResponse>([&](auto done) { a_.protocol->call_store(b_.info, {item}, false, done); });
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored.value().outcomes, std::vector<StoreItemOutcome>{StoreItemOutcome::kRefused});
}

TEST_F(DhtProtocolTest, OwnersSignedStoreIsFoundWithItsProofsAndOthersAreRefused) {
  const net::Identity owner = identity_from_seed(7);
  const std::string name = "experts" + owner_marker(owner.public_key());
  const DhtId key = DhtId::of_key(name);
  StoreItem owned{key, std::nullopt, bytes("owner's"), kStart + 1000, std::nullopt, bytes(name)};
  owned.signature = sign_record(owner, key, std::nullopt, owned.value, owned.expiration);
  // The same bytes under a later expiration, unsigned and without the key's name: a forgery.
  const StoreItem forged{key, std::nullopt, bytes("forged"), kStart + 5000, std::nullopt};
  auto stored = wait_for<StoreResponse>(
      [&](auto done) { a_.protocol->call_store(b_.info, {owned, forged}, false, done); });
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored.value().outcomes,
            (std::vector<StoreItemOutcome>{StoreItemOutcome::kStored, StoreItemOutcome::kRefused}));

  auto found = wait_for<FindResponse>([&](auto done) { c_.protocol->call_find(b_.info, {key}, done); });
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  ASSERT_TRUE(found.value().records.at(0).record.has_value());
  Record record = *found.value().records.at(0).record;
  EXPECT_EQ(record, (Record{bytes("owner's"), kStart + 1000, owned.signature, owner.public_key()}));
  EXPECT_TRUE(drop_unverified(bytes(name), key, record));
}

TEST_F(DhtProtocolTest, AbsentKeyIsAnsweredWithNearestNodes) {
  a_pings_b_and_b_adds_a();
  auto found = wait_for<FindResponse>(
      [&](auto done) { c_.protocol->call_find(b_.info, {DhtId::of_key("nothing here")}, done); });
  ASSERT_TRUE(found.is_ok());
  EXPECT_FALSE(found.value().records.at(0).record.has_value());
  EXPECT_EQ(found.value().records.at(0).nearest, std::vector<NodeInfo>{a_.info});
}

TEST_F(DhtProtocolTest, MalformedRequestIsAnsweredWithAnErrorAndTheNodeKeepsServing) {
  std::promise<net::Result<net::Reply>> reply;
  loop_.run_sync([&] {
    net::Message garbage;
    garbage.metadata = bytes("definitely not a flatbuffer");
    a_.endpoint.call_datagram(b_.info.address, std::string(kFindMethod), garbage, {},
                              [&](net::Result<net::Reply> result) { reply.set_value(std::move(result)); });
  });
  EXPECT_EQ(reply.get_future().get().status().code(), net::StatusCode::kProtocolError);
  EXPECT_TRUE(wait_for<PingResponse>([&](auto done) { a_.protocol->call_ping(b_.info.address, done); }).is_ok());
  EXPECT_EQ(loop_.run_sync([&] { return b_.protocol->stats().requests_malformed; }), 1u);
}

TEST_F(DhtProtocolTest, ClientModeNodeUsesTheDhtButIsNeverAdded) {
  ProtocolOptions client;
  client.mode = NodeMode::kClient;
  TestNode trainer(loop_, clock_, 9, client);
  ASSERT_TRUE(wait_for<PingResponse>([&](auto done) { trainer.protocol->call_ping(b_.info.address, done); }).is_ok());
  EXPECT_TRUE(knows(trainer, b_));
  EXPECT_FALSE(knows(b_, trainer));
  // And it serves nothing.
  auto ping = wait_for<PingResponse>([&](auto done) { a_.protocol->call_ping(trainer.info.address, done); });
  EXPECT_EQ(ping.status().code(), net::StatusCode::kNotFound);
}

TEST(DhtProtocolFailure, NodeThatStopsAnsweringIsDroppedFromTheRoutingTable) {
  ManualClock clock(kStart);
  net::EventLoop loop;
  ProtocolOptions options;
  options.rpc_timeout = 300ms;
  TestNode a(loop, clock, 1, options);
  auto b = std::make_unique<TestNode>(loop, clock, 2, options);
  const NodeInfo b_info = b->info;
  std::promise<net::Result<PingResponse>> pong;
  loop.run_sync([&] { a.protocol->call_ping(b_info.address, [&](auto result) { pong.set_value(std::move(result)); }); });
  ASSERT_TRUE(pong.get_future().get().is_ok());
  ASSERT_TRUE(loop.run_sync([&] { return a.protocol->routing_table().find(b_info.id).has_value(); }));
  b.reset();  // B goes away: its endpoint closes
  std::promise<net::Result<FindResponse>> found;
  loop.run_sync([&] {
    a.protocol->call_find(b_info, {DhtId::of_key("k")}, [&](auto result) { found.set_value(std::move(result)); });
  });
  EXPECT_EQ(found.get_future().get().status().code(), net::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(loop.run_sync([&] { return a.protocol->routing_table().find(b_info.id).has_value(); }));
}

}  // namespace
}  // namespace hive::dht
