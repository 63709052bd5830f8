// A DHT node for the rest of the program (OpenDHT's DhtRunner over its Dht core): it puts a
// DhtNode on an endpoint's I/O thread and offers its operations to any thread, with futures.
// Keys are strings here (hashed to DhtIds); the DhtNode underneath works on ids. The endpoint
// stays the caller's: a server shares one port between the DHT and its own RPCs.
#pragma once

#include <future>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "dht/node/dht_node.h"
#include "dht/transport/endpoint_transport.h"
#include "dht/transport/loop_scheduler.h"
#include "net/rpc/endpoint.h"

namespace hive::dht {

struct DhtSnapshot {
  NodeInfo self;
  size_t routing_table_size = 0;
  size_t routing_table_buckets = 0;
  StorageStats storage;
  StorageStats cache;
  DhtNodeStats node;
  ProtocolStats protocol;
};

class DhtRunner {
 public:
  // `advertised` is the address others reach the endpoint at (the one it listens on, unless
  // that is a wildcard address). Any thread but the endpoint's I/O thread.
  DhtRunner(net::Endpoint& endpoint, net::SocketAddress advertised, DhtNodeOptions options = {});
  ~DhtRunner();
  DhtRunner(const DhtRunner&) = delete;
  DhtRunner& operator=(const DhtRunner&) = delete;

  // See DhtNode::bootstrap. An empty list starts a new swarm.
  std::future<net::Status> bootstrap(std::vector<net::SocketAddress> initial_peers);
  std::future<std::vector<StoreResult>> store(std::vector<StoreItem> items);
  // A key or subkey that names this endpoint's identity as its owner is signed here; one that
  // names another owner is refused by the storing nodes.
  std::future<StoreResult> store(std::string_view key, Bytes value, DhtTime expiration,
                                 std::optional<Bytes> subkey = std::nullopt);
  // Values whose key or subkey names an owner are kept only with that owner's signature.
  std::future<GetResult> get(std::string_view key, GetOptions options = {});
  std::future<GetResult> get(const DhtId& key, GetOptions options = {});

  DhtSnapshot snapshot();
  const NodeInfo& self() const { return self_; }
  const Clock& clock() const { return clock_; }

 private:
  // Runs start(done) on the I/O thread; the future gets what `done` is given.
  template <typename T, typename Start>
  std::future<T> on_loop(Start start);

  net::Endpoint& endpoint_;
  NodeInfo self_;
  SystemClock clock_;
  EndpointTransport transport_;
  std::unique_ptr<LoopScheduler> scheduler_;  // created and destroyed on the I/O thread
  std::unique_ptr<DhtNode> node_;             // likewise
};

}  // namespace hive::dht
