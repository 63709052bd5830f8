// Swarms of real DHT nodes in one process: each node is its own net::Endpoint (real UDP and TCP
// sockets on loopback) with a DhtRunner, a few nodes per event loop. Identities, the choice of
// nodes and the data are seeded; only timings vary between runs. The numbers behind each
// assertion (success rates, latencies, wall times) are printed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dht/node/dht_runner.h"
#include "dht/protocol/messages.h"
#include "net/wire/frame.h"
#include "tests/dht/dht_test_util.h"
#include "tests/net/net_test_util.h"

namespace hive::dht {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::bytes;

// AddressSanitizer (on the asan preset's unoptimized build) and ThreadSanitizer make every RPC
// several times slower: hundreds of operations issued at once then queue for longer than the
// 3 s RPC timeout on a 2-core machine, which tests the machine, not the DHT. The sanitizer
// presets run swarms and key counts a quarter of the size.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kScale = 4;
#else
constexpr size_t kScale = 1;
#endif

constexpr auto kWaitLimit = 60s;  // a safety net for one future: every operation takes far less
constexpr size_t kLoops = 4;      // I/O threads shared by the nodes

// net::testing::identity_from_seed takes one byte (256 identities); swarms need more.
net::Identity identity_of(uint32_t index) {
  std::array<std::byte, 32> seed{};
  seed[0] = std::byte{0x5d};  // never all-equal bytes, so never one of identity_from_seed's
  for (size_t i = 0; i < 4; ++i) seed[1 + i] = static_cast<std::byte>(index >> (8 * i));
  return net::Identity::from_seed(seed);
}

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

template <typename T>
std::optional<T> await(std::future<T>& future) {
  if (future.wait_for(kWaitLimit) != std::future_status::ready) return std::nullopt;
  return future.get();
}

// A get that crawls the nearest nodes for the latest record (skipping caches on the way).
GetOptions latest_record() {
  GetOptions options;
  options.latest = true;
  return options;
}

// Nodes on loopback, spread over a few event loops. Node i's identity is identity_of(i).
class Swarm {
 public:
  explicit Swarm(DhtNodeOptions options = {}) : options_(std::move(options)) {
    for (size_t i = 0; i < kLoops; ++i) loops_.push_back(std::make_unique<net::EventLoop>());
  }
  // Nodes go before their loops.
  ~Swarm() { nodes_.clear(); }

  // Starts a node (not bootstrapped yet) and returns its index.
  size_t add() {
    const size_t index = nodes_.size();
    Node node;
    node.endpoint = std::make_unique<net::Endpoint>(*loops_[index % kLoops], identity_of(static_cast<uint32_t>(index)));
    auto address = node.endpoint->listen("127.0.0.1:0");
    EXPECT_TRUE(address.is_ok()) << address.status().to_string();
    node.address = address.value();
    node.runner = std::make_unique<DhtRunner>(*node.endpoint, node.address, options_);
    nodes_.push_back(std::move(node));
    return index;
  }

  // Closes the node's sockets, then drops its state: no goodbye, calls in flight are lost.
  void kill(size_t index) {
    nodes_[index].endpoint->shutdown();
    nodes_[index].runner.reset();
    nodes_[index].endpoint.reset();
  }
  bool alive(size_t index) const { return nodes_[index].runner != nullptr; }

  DhtRunner& runner(size_t index) { return *nodes_[index].runner; }
  net::Endpoint& endpoint(size_t index) { return *nodes_[index].endpoint; }
  const net::SocketAddress& address(size_t index) const { return nodes_[index].address; }
  size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    net::SocketAddress address;
    std::unique_ptr<net::Endpoint> endpoint;
    std::unique_ptr<DhtRunner> runner;  // declared after the endpoint: destroyed before it
  };

  DhtNodeOptions options_;
  std::vector<std::unique_ptr<net::EventLoop>> loops_;
  std::vector<Node> nodes_;
};

// Picks nodes: any live one, or any live one but a given one.
class NodePicker {
 public:
  NodePicker(const Swarm& swarm, uint64_t seed) : swarm_(swarm), random_(seed) {}

  size_t any() { return other_than(swarm_.size()); }
  size_t other_than(size_t excluded) {
    std::uniform_int_distribution<size_t> pick(0, swarm_.size() - 1);
    while (true) {
      const size_t index = pick(random_);
      if (index != excluded && swarm_.alive(index)) return index;
    }
  }
  std::mt19937_64& random() { return random_; }

 private:
  const Swarm& swarm_;
  std::mt19937_64 random_;
};

// Joins `count` nodes one after another, each bootstrapping from one or two earlier nodes.
void join_one_by_one(Swarm& swarm, size_t count, NodePicker& picker) {
  for (size_t i = 0; i < count; ++i) {
    std::vector<net::SocketAddress> peers;
    if (swarm.size() > 0) {
      peers.push_back(swarm.address(picker.any()));
      if (swarm.size() > 1 && picker.random()() % 2 == 0) peers.push_back(swarm.address(picker.any()));
    }
    const size_t node = swarm.add();
    auto bootstrapped = swarm.runner(node).bootstrap(peers);
    const std::optional<net::Status> status = await(bootstrapped);
    ASSERT_TRUE(status && status->is_ok()) << "node " << node << ": "
                                           << (status ? status->to_string() : "no answer");
  }
}

DhtTime expiration_in(Swarm& swarm, std::chrono::seconds from_now) {
  return swarm.runner(0).clock().now() + from_now.count() * 1000;
}

std::string key_name(std::string_view prefix, size_t index) { return std::string(prefix) + std::to_string(index); }

// A value whose bytes depend on the key and the seeded generator.
Bytes value_for(const std::string& key, std::mt19937_64& random) {
  return bytes(key + "=" + std::to_string(random()));
}

struct GetStats {
  size_t gets = 0;
  size_t found = 0;  // with exactly the stored value
  size_t local = 0;
  std::vector<double> lookup_ms;  // latency of the gets that ran a lookup

  double mean_ms() const {
    if (lookup_ms.empty()) return 0;
    double sum = 0;
    for (double ms : lookup_ms) sum += ms;
    return sum / static_cast<double>(lookup_ms.size());
  }
  double max_ms() const { return lookup_ms.empty() ? 0 : *std::max_element(lookup_ms.begin(), lookup_ms.end()); }
  double success_rate() const { return gets == 0 ? 0 : static_cast<double>(found) / static_cast<double>(gets); }
};

void print_gets(const char* label, const GetStats& stats) {
  std::printf("[swarm] %-28s %4zu gets, %4zu found (%.2f%%), %3zu local; lookup latency mean %.2f ms, max %.2f ms\n",
              label, stats.gets, stats.found, 100.0 * stats.success_rate(), stats.local, stats.mean_ms(),
              stats.max_ms());
  std::fflush(stdout);
}

// Plain keys: key -> (the node that stored it, its value).
struct PlainKey {
  std::string key;
  size_t storer = 0;
  Bytes value;
};

// Stores every key from its storer, all at once; every store must be taken somewhere. Returns
// how many nodes took each (0 for a store that never finished).
std::vector<size_t> store_all(Swarm& swarm, const std::vector<PlainKey>& keys, DhtTime expiration) {
  std::vector<std::future<StoreResult>> stores;
  for (const PlainKey& key : keys) stores.push_back(swarm.runner(key.storer).store(key.key, key.value, expiration));
  std::vector<size_t> stored_on(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::optional<StoreResult> result = await(stores[i]);
    EXPECT_TRUE(result.has_value()) << keys[i].key << ": the store never finished";
    if (!result) continue;
    EXPECT_TRUE(result->ok()) << keys[i].key << ": stored " << result->stored << ", failed " << result->failed;
    stored_on[i] = result->stored;
  }
  return stored_on;
}

// Stores the keys `batch` at a time. A burst of hundreds of concurrent stores queues every
// loop of this one process for a while, and each node's round-trip estimates (PeerHealth) keep
// what they learned then until that node hears from the same peers again.
void store_in_batches(Swarm& swarm, const std::vector<PlainKey>& keys, DhtTime expiration, size_t batch) {
  for (size_t first = 0; first < keys.size(); first += batch) {
    const size_t end = std::min(keys.size(), first + batch);
    store_all(swarm, std::vector<PlainKey>(keys.begin() + static_cast<ptrdiff_t>(first), keys.begin() + static_cast<ptrdiff_t>(end)),
              expiration);
  }
}

// Gets each key once, one after another (so that each latency is one lookup's alone), from a
// live node other than its storer that has not read that key before (`readers` remembers).
GetStats get_each_sequentially(Swarm& swarm, const std::vector<PlainKey>& keys, NodePicker& picker,
                               std::set<std::pair<size_t, size_t>>& readers) {
  GetStats stats;
  for (size_t k = 0; k < keys.size(); ++k) {
    size_t getter = picker.other_than(keys[k].storer);
    while (!readers.insert({k, getter}).second) getter = picker.other_than(keys[k].storer);
    const Clock::time_point start = Clock::now();
    auto future = swarm.runner(getter).get(keys[k].key);
    const std::optional<GetResult> result = await(future);
    const double ms = milliseconds_since(start);
    ++stats.gets;
    if (!result) continue;
    if (result->local) {
      ++stats.local;
    } else {
      stats.lookup_ms.push_back(ms);
    }
    if (result->record && !result->record->is_dictionary() && result->record->plain() == keys[k].value) ++stats.found;
  }
  return stats;
}

// --- a. a grown swarm: every stored key and subkey is read back exactly -------------------------

TEST(DhtSwarm, EveryPlainKeyAndEverySubkeyStoredIsReadBackExactlyFromAnotherNode) {
  const size_t nodes = 100 / kScale;
  const size_t plain_keys = 100 / kScale;
  const size_t dictionary_keys = 20 / kScale;
  const size_t subkeys = 5;
  const Clock::time_point start = Clock::now();
  Swarm swarm;
  NodePicker picker(swarm, 1);
  join_one_by_one(swarm, nodes, picker);
  const double join_ms = milliseconds_since(start);
  const DhtTime expiration = expiration_in(swarm, 600s);

  std::vector<PlainKey> keys;
  for (size_t i = 0; i < plain_keys; ++i) {
    const std::string key = key_name("plain.", i);
    keys.push_back(PlainKey{key, picker.any(), value_for(key, picker.random())});
  }
  store_all(swarm, keys, expiration);

  // Each subkey comes from its own random node, all at once.
  std::map<std::string, Dictionary> expected;
  std::vector<std::future<StoreResult>> subkey_stores;
  for (size_t i = 0; i < dictionary_keys; ++i) {
    const std::string key = key_name("experts.", i);
    for (size_t s = 0; s < subkeys; ++s) {
      const Bytes subkey = bytes(std::to_string(s));
      const Bytes value = value_for(key + "." + std::to_string(s), picker.random());
      expected[key][subkey] = TimedValue{value, expiration - static_cast<DhtTime>(s)};
      subkey_stores.push_back(swarm.runner(picker.any()).store(key, value, expiration - static_cast<DhtTime>(s), subkey));
    }
  }
  for (auto& store : subkey_stores) {
    const std::optional<StoreResult> result = await(store);
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << "stored " << result->stored << ", failed " << result->failed;
  }
  const double stored_ms = milliseconds_since(start);

  // Every read from another node, all at once.
  std::vector<std::future<GetResult>> plain_gets;
  for (const PlainKey& key : keys) plain_gets.push_back(swarm.runner(picker.other_than(key.storer)).get(key.key));
  std::vector<std::future<GetResult>> dictionary_gets;
  // A dictionary's subkeys came from different nodes: crawling for the latest merges every
  // nearest node's view (a plain get may stop at the first views it meets).
  GetOptions latest;
  latest.latest = true;
  for (const auto& [key, dictionary] : expected) dictionary_gets.push_back(swarm.runner(picker.any()).get(key, latest));
  size_t plain_found = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::optional<GetResult> result = await(plain_gets[i]);
    ASSERT_TRUE(result.has_value());
    const bool found = result->record && !result->record->is_dictionary() &&
                       result->record->plain() == keys[i].value && result->record->expiration == expiration;
    EXPECT_TRUE(found) << keys[i].key;
    plain_found += found;
  }
  size_t dictionaries_found = 0;
  size_t i = 0;
  for (const auto& [key, dictionary] : expected) {
    const std::optional<GetResult> result = await(dictionary_gets[i++]);
    ASSERT_TRUE(result.has_value());
    ASSERT_TRUE(result->record && result->record->is_dictionary()) << key;
    EXPECT_EQ(result->record->dictionary(), dictionary) << key;
    EXPECT_EQ(result->record->expiration, expiration) << key;
    dictionaries_found += result->record->dictionary() == dictionary;
  }
  std::printf("[swarm] %zu nodes joined one by one in %.0f ms; %zu plain keys and %zu x %zu subkeys stored "
              "by %.0f ms; found %zu/%zu plain, %zu/%zu dictionaries exactly; total %.0f ms\n",
              nodes, join_ms, plain_keys, dictionary_keys, subkeys, stored_ms, plain_found, plain_keys,
              dictionaries_found, dictionary_keys, milliseconds_since(start));
}

TEST(DhtSwarm, StoreExpiringEarlierThanTheHeldValueIsNotNewerAndGetsKeepTheLaterValue) {
  Swarm swarm;
  NodePicker picker(swarm, 2);
  join_one_by_one(swarm, 100 / kScale, picker);
  const std::string key = "contested";
  const DhtTime later = expiration_in(swarm, 600s);
  const size_t first_writer = picker.any();
  auto first = swarm.runner(first_writer).store(key, bytes("later"), later);
  const std::optional<StoreResult> stored = await(first);
  ASSERT_TRUE(stored && stored->ok());
  EXPECT_EQ(stored->stored, 5u);  // DhtNodeOptions::replicas

  const size_t second_writer = picker.other_than(first_writer);
  auto second = swarm.runner(second_writer).store(key, bytes("earlier"), later - 300'000);
  const std::optional<StoreResult> refused = await(second);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->stored, 0u);
  EXPECT_EQ(refused->not_newer, 5u);
  EXPECT_EQ(refused->failed, 0u);

  auto got = swarm.runner(picker.other_than(second_writer)).get(key);
  const std::optional<GetResult> result = await(got);
  ASSERT_TRUE(result && result->record);
  EXPECT_EQ(result->record->plain(), bytes("later"));
  EXPECT_EQ(result->record->expiration, later);

  // A still later store wins everywhere it lands; a `latest` get sees it even where a copy of
  // the older value is cached.
  auto third = swarm.runner(second_writer).store(key, bytes("latest"), later + 1);
  const std::optional<StoreResult> replaced = await(third);
  ASSERT_TRUE(replaced && replaced->ok());
  EXPECT_EQ(replaced->stored, 5u);
  auto latest = swarm.runner(picker.any()).get(key, latest_record());
  const std::optional<GetResult> newest = await(latest);
  ASSERT_TRUE(newest && newest->record);
  EXPECT_EQ(newest->record->plain(), bytes("latest"));
  EXPECT_EQ(newest->record->expiration, later + 1);
}

// --- b. read-after-write right after a burst join ------------------------------------------------

TEST(DhtSwarm, EveryKeyStoredRightAfterABurstJoinIsReadBackAtOnce) {
  const size_t seeds = 5;
  const size_t nodes = 200 / kScale;
  const size_t key_count = 200 / kScale;
  Swarm swarm;
  NodePicker picker(swarm, 3);
  join_one_by_one(swarm, seeds, picker);

  // Every other node bootstraps at the same time, from one or two of the seeds.
  const Clock::time_point start = Clock::now();
  std::vector<std::future<net::Status>> bootstraps;
  std::uniform_int_distribution<size_t> seed_node(0, seeds - 1);
  for (size_t i = seeds; i < nodes; ++i) {
    const size_t node = swarm.add();
    std::vector<net::SocketAddress> peers{swarm.address(seed_node(picker.random()))};
    if (picker.random()() % 2 == 0) peers.push_back(swarm.address(seed_node(picker.random())));
    bootstraps.push_back(swarm.runner(node).bootstrap(peers));
  }
  for (auto& bootstrap : bootstraps) {
    const std::optional<net::Status> status = await(bootstrap);
    ASSERT_TRUE(status && status->is_ok()) << (status ? status->to_string() : "no answer");
  }
  const double join_ms = milliseconds_since(start);

  std::vector<PlainKey> keys;
  for (size_t i = 0; i < key_count; ++i) {
    const std::string key = key_name("burst.", i);
    keys.push_back(PlainKey{key, picker.any(), value_for(key, picker.random())});
  }
  const std::vector<size_t> stored_on = store_all(swarm, keys, expiration_in(swarm, 600s));
  const double stored_ms = milliseconds_since(start);

  std::vector<std::future<GetResult>> gets;
  for (const PlainKey& key : keys) gets.push_back(swarm.runner(picker.other_than(key.storer)).get(key.key));
  size_t found = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::optional<GetResult> result = await(gets[i]);
    ASSERT_TRUE(result.has_value());
    const bool exact = result->record && !result->record->is_dictionary() && result->record->plain() == keys[i].value;
    EXPECT_TRUE(exact) << keys[i].key << " stored by node " << keys[i].storer << " on " << stored_on[i]
                       << " nodes; the get's lookup: " << result->rounds << " rounds, " << result->requests
                       << " requests";
    found += exact;
  }
  std::printf("[swarm] %zu nodes bootstrapped at once (from %zu seeds) in %.0f ms; %zu keys stored by %.0f ms; "
              "%zu/%zu read back at once; total %.0f ms\n",
              nodes - seeds, seeds, join_ms, key_count, stored_ms, found, key_count, milliseconds_since(start));
}

// --- c. abrupt death of 30% of the nodes ----------------------------------------------------------

TEST(DhtSwarm, KeysOutliveAbruptDeathOfThirtyPercentOfNodesAndGetsAreFastAgainSoon) {
  const size_t nodes = 100 / kScale;
  const size_t key_count = 200 / kScale;
  Swarm swarm;
  NodePicker picker(swarm, 4);
  join_one_by_one(swarm, nodes, picker);
  std::vector<PlainKey> keys;
  for (size_t i = 0; i < key_count; ++i) {
    const std::string key = key_name("survivor.", i);
    keys.push_back(PlainKey{key, picker.any(), value_for(key, picker.random())});
  }
  // In batches: this test measures how fast gets recover from dead peers, not from a load burst
  // (which leaves lookups waiting up to a few hundred ms for each dead peer; see store_in_batches).
  store_in_batches(swarm, keys, expiration_in(swarm, 600s), 10);

  std::set<std::pair<size_t, size_t>> readers;  // (key, node) pairs already read: no cache hits
  const GetStats before = get_each_sequentially(swarm, keys, picker, readers);
  print_gets("before the kill:", before);
  EXPECT_EQ(before.found, key_count);

  std::vector<size_t> order(nodes);
  for (size_t i = 0; i < nodes; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), picker.random());
  const size_t killed = nodes * 3 / 10;
  for (size_t i = 0; i < killed; ++i) swarm.kill(order[i]);
  const Clock::time_point killed_at = Clock::now();

  const GetStats right_after = get_each_sequentially(swarm, keys, picker, readers);
  print_gets("right after killing 30%:", right_after);
  // Waiting for real time to pass is the point here: the RPC timeouts (3 s) that drop dead
  // peers from routing tables run on the real clock, so there is no event to wait for instead.
  std::this_thread::sleep_until(killed_at + 5s);
  const GetStats later = get_each_sequentially(swarm, keys, picker, readers);
  print_gets("5 s after the kill:", later);

  EXPECT_GE(right_after.success_rate(), 0.995);
  EXPECT_GE(later.success_rate(), 0.995);
  EXPECT_LE(later.mean_ms(), std::max(3 * before.mean_ms(), 20.0))
      << "before " << before.mean_ms() << " ms, right after " << right_after.mean_ms() << " ms";
}

// --- d. malformed datagrams and oversized records -------------------------------------------------

// A dht.find request datagram exactly as an endpoint sends it.
std::vector<std::byte> find_request_datagram(const NodeInfo& sender, const DhtId& key) {
  net::FrameHeader header;
  header.kind = net::FrameKind::kRequest;
  header.call_id = 77;
  header.method = std::string(kFindMethod);
  header.timeout_ms = 1000;
  header.metadata = encode_find_request(FindRequest{sender, {key}});
  return net::encode_frame_prefix(header, 0);
}

std::vector<std::byte> request_datagram(std::string_view method, Bytes metadata) {
  net::FrameHeader header;
  header.kind = net::FrameKind::kRequest;
  header.call_id = 78;
  header.method = std::string(method);
  header.timeout_ms = 1000;
  header.metadata = std::move(metadata);
  return net::encode_frame_prefix(header, 0);
}

TEST(DhtSwarm, MalformedDatagramsAndOversizedRecordsNeverStopANodeFromAnswering) {
  DhtNodeOptions options;
  options.protocol.storage.max_subkeys_per_key = 16;
  const StorageLimits limits = options.protocol.storage;
  Swarm swarm(options);
  NodePicker picker(swarm, 5);
  join_one_by_one(swarm, 12, picker);
  const size_t target = 3;
  const DhtTime expiration = expiration_in(swarm, 600s);
  auto before = swarm.runner(0).store("before", bytes("still here"), expiration);
  ASSERT_TRUE(await(before)->ok());

  // Garbage to the target's UDP port, from a socket that is no node.
  std::mt19937_64& random = picker.random();
  auto random_bytes = [&](size_t count) {
    std::vector<std::byte> out(count);
    for (std::byte& b : out) b = static_cast<std::byte>(random());
    return out;
  };
  const NodeInfo sender{DhtId::of_key("a stranger"), swarm.address(0)};
  const std::vector<std::byte> real = find_request_datagram(sender, DhtId::of_key("before"));
  const Bytes find = encode_find_request(FindRequest{sender, {DhtId::of_key("before")}});
  const Bytes store = encode_store_request(
      StoreRequest{sender, {StoreItem{DhtId::of_key("x"), bytes("s"), bytes("v"), expiration, std::nullopt}}, false});
  // A ping from node 0 answered by the target: datagrams on loopback arrive in order, so once it
  // is answered, everything sent before it was handled. Pinging every 50 datagrams also keeps
  // the target's socket buffer from overflowing, so that every datagram reaches the node.
  size_t pings_answered = 0;
  auto target_answers_ping = [&] {
    net::Message ping;
    ping.metadata = encode_ping_request(PingRequest{std::nullopt});
    auto pong = swarm.endpoint(0).call_datagram_async(swarm.address(target), std::string(kPingMethod), ping);
    const std::optional<net::Result<net::Reply>> reply = await(pong);
    const bool answered = reply && reply->is_ok() && decode_as<PingResponse>(reply->value().message.metadata).is_ok();
    pings_answered += answered;
    return answered;
  };
  size_t sent = 0;
  {
    net::testing::RawSocket raw(swarm.address(target), SOCK_DGRAM);
    auto send = [&](std::span<const std::byte> datagram) {
      raw.send_all(datagram);
      if (++sent % 50 == 0) {
        EXPECT_TRUE(target_answers_ping()) << "after " << sent << " datagrams";
      }
    };
    std::uniform_int_distribution<size_t> length(1, 1400);
    for (int i = 0; i < 200; ++i) send(random_bytes(length(random)));
    for (size_t cut = 1; cut < real.size(); ++cut) send(std::span(real).first(cut));  // truncated frames
    for (const Bytes* message : {&find, &store}) {
      const std::string_view method = message == &find ? kFindMethod : kStoreMethod;
      for (size_t cut = 0; cut < message->size(); ++cut) {  // well-framed, truncated DHT messages
        send(request_datagram(method, Bytes(message->begin(), message->begin() + static_cast<ptrdiff_t>(cut))));
      }
      for (int i = 0; i < 200; ++i) {  // well-framed DHT messages with a few bytes flipped
        Bytes mutated = *message;
        for (int flips = 0; flips < 3; ++flips) mutated[random() % mutated.size()] ^= static_cast<std::byte>(1 + random() % 255);
        send(request_datagram(method, std::move(mutated)));
      }
    }
    for (int i = 0; i < 200; ++i) {  // whole frames with bytes flipped
      std::vector<std::byte> mutated = real;
      mutated[random() % mutated.size()] ^= static_cast<std::byte>(1 + random() % 255);
      send(mutated);
    }
  }
  ASSERT_TRUE(target_answers_ping());
  const DhtSnapshot snapshot = swarm.runner(target).snapshot();
  const net::EndpointStats endpoint_stats = swarm.endpoint(target).stats();
  std::printf("[swarm] %zu malformed datagrams sent: %llu dropped by the endpoint, %llu DHT requests malformed, "
              "%llu served (%zu of them our pings)\n",
              sent, static_cast<unsigned long long>(endpoint_stats.datagrams_dropped_bad_input),
              static_cast<unsigned long long>(snapshot.protocol.requests_malformed),
              static_cast<unsigned long long>(snapshot.protocol.requests_served), pings_answered);
  EXPECT_GT(endpoint_stats.datagrams_dropped_bad_input, 0u);
  EXPECT_GT(snapshot.protocol.requests_malformed, 0u);

  // Oversized records through the API: refused by every replica, nothing stored.
  auto too_large = swarm.runner(target).store("too large", Bytes(limits.max_value_bytes + 1), expiration);
  const std::optional<StoreResult> large = await(too_large);
  ASSERT_TRUE(large.has_value());
  EXPECT_EQ(large->stored, 0u);
  EXPECT_EQ(large->refused, 5u);
  EXPECT_EQ(large->failed, 0u);
  auto long_subkey = swarm.runner(target).store("long subkey", bytes("v"), expiration, Bytes(limits.max_subkey_bytes + 1));
  const std::optional<StoreResult> subkey_refused = await(long_subkey);
  ASSERT_TRUE(subkey_refused.has_value());
  EXPECT_EQ(subkey_refused->stored, 0u);
  EXPECT_EQ(subkey_refused->refused, 5u);

  std::vector<StoreItem> full;
  for (size_t s = 0; s < limits.max_subkeys_per_key; ++s) {
    full.push_back(StoreItem{DhtId::of_key("crowded"), bytes(std::to_string(s)), bytes("v"), expiration, std::nullopt});
  }
  auto filled = swarm.runner(target).store(full);
  const std::optional<std::vector<StoreResult>> filled_results = await(filled);
  ASSERT_TRUE(filled_results.has_value());
  for (const StoreResult& result : *filled_results) EXPECT_EQ(result.stored, 5u);
  auto one_more = swarm.runner(picker.other_than(target)).store("crowded", bytes("v"), expiration, bytes("one too many"));
  const std::optional<StoreResult> crowded = await(one_more);
  ASSERT_TRUE(crowded.has_value());
  EXPECT_EQ(crowded->stored, 0u);
  EXPECT_EQ(crowded->refused, 5u);

  // The target still answers gets, its own and others' (lookups through it included).
  for (size_t getter : {target, picker.other_than(target), picker.other_than(target)}) {
    auto still = swarm.runner(getter).get("before", latest_record());
    const std::optional<GetResult> result = await(still);
    ASSERT_TRUE(result && result->record) << "getter " << getter;
    EXPECT_EQ(result->record->plain(), bytes("still here"));
    auto dictionary = swarm.runner(getter).get("crowded", latest_record());
    const std::optional<GetResult> crowd = await(dictionary);
    ASSERT_TRUE(crowd && crowd->record && crowd->record->is_dictionary());
    EXPECT_EQ(crowd->record->dictionary().size(), limits.max_subkeys_per_key);
  }
}

}  // namespace
}  // namespace hive::dht
