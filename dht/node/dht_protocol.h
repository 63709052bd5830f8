// One DHT node's RPC layer (hivemind's DHTProtocol): it serves dht.ping, dht.store and dht.find
// over the endpoint's datagram RPC (replies too large for a datagram move to TCP), calls them on
// other nodes, and keeps the routing table current from both: every node that answers a call is
// added or refreshed; a full bucket pings its least recently seen node and drops it if it does
// not answer; a node that fails a call is dropped and backed off (PeerHealth), and every
// answer's round trip feeds the adaptive timeouts that lookups (dht/node/lookup.h) use.
//
// The sender a request names is a claim, and a datagram's source address can be forged: a
// sender already in the table at that address is refreshed, any other is pinged there first and
// enters the table only with the answer (which names the responder's own id). So a forged
// request cannot put a node into the table at someone else's address, nor point a known id at
// an address that does not answer as that id, and the table only holds addresses that answered. Ids are not bound to keys: a
// node may still choose its own id (as in hivemind and OpenDHT).
//
// In client mode the node serves nothing and never names itself in requests, so it is never put
// into others' routing tables (trainers behind NAT).
//
// Threads: the transport's thread only (handlers and callbacks run there). The network, the
// scheduler and the clock are parameters: the same code runs on sockets and in simulation.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "dht/core/dht_time.h"
#include "dht/protocol/messages.h"
#include "dht/routing/peer_health.h"
#include "dht/routing/routing_table.h"
#include "dht/storage/local_storage.h"
#include "dht/transport/dht_transport.h"

namespace hive::dht {

enum class NodeMode { kServer, kClient };

struct ProtocolOptions {
  NodeMode mode = NodeMode::kServer;
  std::chrono::milliseconds rpc_timeout{3000};
  size_t bucket_size = RoutingTable::kDefaultBucketSize;
  size_t depth_modulo = RoutingTable::kDefaultDepthModulo;
  // find answers carry this many nearest nodes per key.
  size_t nearest_per_find = RoutingTable::kDefaultBucketSize;
  // Pings in flight to check the senders of requests (one per address); senders beyond this
  // are not added (they will be on a later request, or when a lookup meets them).
  size_t max_sender_checks = 64;
  // A peer whose clock differs by more than this (seen at ping) is logged as skewed.
  DhtTime max_clock_skew_ms = 5000;
  StorageLimits storage;
  StorageLimits cache{64 * 1024, 256, 4096, 64ull << 20};
  MessageLimits message_limits;
  PeerHealthOptions peer_health;
};

struct ProtocolStats {
  uint64_t requests_served = 0;
  uint64_t requests_malformed = 0;
  uint64_t calls_failed = 0;
  uint64_t peers_with_skewed_clocks = 0;
  uint64_t sender_checks = 0;          // pings sent to check a request's sender
  uint64_t sender_checks_skipped = 0;  // max_sender_checks were in flight
};

class DhtProtocol {
 public:
  template <typename T>
  using Callback = std::function<void(net::Result<T>)>;

  // `self` is this node's id and the address others reach it at (the transport's).
  DhtProtocol(DhtTransport& transport, Scheduler& scheduler, NodeInfo self, const Clock& clock,
              ProtocolOptions options = {});
  // Stops serving; callbacks of calls still in flight are dropped.
  ~DhtProtocol();
  DhtProtocol(const DhtProtocol&) = delete;
  DhtProtocol& operator=(const DhtProtocol&) = delete;

  // Calls; `to.id` is refreshed in the routing table on an answer and dropped on a failure.
  // call_ping can reach a node known only by address (bootstrap): it learns the id from the
  // answer.
  void call_ping(const net::SocketAddress& to, Callback<PingResponse> done);
  void call_store(const NodeInfo& to, std::vector<StoreItem> items, bool in_cache,
                  Callback<StoreResponse> done);
  void call_find(const NodeInfo& to, std::vector<DhtId> keys, Callback<FindResponse> done);

  // Called with every node that an answer to this node puts into the routing table: not with
  // one refreshed, nor with a replacement that the table promotes in place of a failed node
  // (those wait in full buckets, which only far ranges keep). One handler, replaced by the
  // next call.
  void on_node_added(std::function<void(const NodeInfo&)> handler) { on_node_added_ = std::move(handler); }

  // Stores one item into this node's storage (or cache), with the checks a peer's store gets.
  StoreItemOutcome store_local(StoreItem item, bool in_cache);

  const NodeInfo& self() const { return self_; }
  RoutingTable& routing_table() { return routing_table_; }
  LocalStorage& storage() { return storage_; }
  LocalStorage& cache() { return cache_; }
  PeerHealth& peer_health() { return peer_health_; }
  Scheduler& scheduler() { return scheduler_; }
  const Clock& clock() const { return clock_; }
  const ProtocolOptions& options() const { return options_; }
  const ProtocolStats& stats() const { return stats_; }
  // False once this protocol is destroyed: for work scheduled on its behalf that may outlive it.
  std::shared_ptr<const bool> alive_token() const { return alive_; }

 private:
  template <typename Response>
  void call(const net::SocketAddress& to, std::string_view method, Bytes request,
            std::optional<DhtId> callee, Callback<Response> done);
  std::optional<NodeInfo> sender() const;

  // Decodes a request, answering a malformed one with its error.
  template <typename Request>
  std::optional<Request> accept(const DhtRequest& request);
  void serve_ping(DhtRequest request);
  void serve_store(DhtRequest request);
  void serve_find(DhtRequest request);
  // After answering a request: refreshes its sender when known at the address the request came
  // from, or pings that address to check the claim (see above).
  void check_sender(const std::optional<NodeInfo>& sender, const DhtRequest& request);
  void heard_from(const NodeInfo& node);
  void failed(const DhtId& node);
  static NodeInfo observed(const NodeInfo& claimed, const DhtRequest& request);
  FoundRecord find_local(const DhtId& key, const std::optional<DhtId>& asker);

  DhtTransport& transport_;
  Scheduler& scheduler_;
  NodeInfo self_;
  const Clock& clock_;
  ProtocolOptions options_;
  RoutingTable routing_table_;
  LocalStorage storage_;
  LocalStorage cache_;
  PeerHealth peer_health_;
  ProtocolStats stats_;
  std::set<net::SocketAddress> checking_senders_;
  std::function<void(const NodeInfo&)> on_node_added_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hive::dht
