// A DHT node (hivemind's DHTNode): the protocol, plus what users call. store() writes each item
// to the `replicas` nodes nearest its key (this node included when it is one of them), found by
// a lookup that ends once those nodes have answered; get()
// answers from the node's own storage or cache when that is fresh enough, else runs a lookup
// that stops at the first fresh record, or, with `latest`, hears from all nearest nodes and
// merges what they hold. A found value is cached on the way back (in the cache of the nearest
// node asked that lacked it, and locally) and refreshed shortly before it expires while gets
// keep reading it. Concurrent gets of one key share one lookup.
//
// A node that enters the routing table is handed the stored records it should now hold
// (Kademlia's join step, dht/node/record_handoff.h).
//
// bootstrap() pings the initial peers (an error names each one that did not answer), then looks
// up the node's own id so its neighbours learn of it. A periodic tick refreshes stale buckets,
// purges expired records and bootstraps again if the routing table has emptied.
//
// Threads: the transport's thread only; the same code runs on sockets and in simulation.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "dht/core/random_source.h"
#include "dht/node/dht_protocol.h"
#include "dht/node/lookup.h"

namespace hive::dht {

struct DhtNodeOptions {
  ProtocolOptions protocol;
  size_t parallelism = 3;
  size_t replicas = 5;       // nodes each stored item goes to
  size_t cache_nearest = 1;  // nodes on the way back that get a copy of a found value
  size_t dictionary_views = 2;  // a get's early stop for dictionaries (LookupOptions)
  bool cache_locally = true;
  // A cached value read since it was fetched is fetched again this long before it expires.
  DhtTime refresh_before_expiry_ms = 5000;
  // A bucket not updated for this long is refreshed by a lookup of a random id inside it. Every
  // lookup refreshes the buckets it passes through, so busy nodes rarely need this; at 60 s the
  // refreshes tripled a 1,000-node swarm's traffic in simulation.
  DhtTime bucket_refresh_period_ms = 600'000;
  std::chrono::milliseconds maintenance_period{5000};
};

// What became of one stored item over the nodes it was sent to.
struct StoreResult {
  size_t stored = 0;     // nodes (this one included) that took it
  size_t not_newer = 0;  // nodes that hold a value expiring no earlier
  size_t refused = 0;    // nodes that refused it (size limits, ownership)
  size_t failed = 0;     // nodes that did not answer
  // Stored somewhere, or already held somewhere with an expiration at least as late.
  bool ok() const { return stored > 0; }
};

struct GetOptions {
  // Crawl the nearest nodes for the latest record (merging dictionaries) instead of stopping at
  // the first one fresh enough; skips the local storage and cache.
  bool latest = false;
  // A record expiring earlier than this is not fresh enough to stop at (default: now).
  std::optional<DhtTime> sufficient_expiration;
  // The key's name (it hashes to the key). Found values of a key or subkey that names an owner
  // are kept only with that owner's signature; without the name only owned subkeys are checked.
  // Cached copies of an owned key's record carry it, as storing nodes require.
  std::optional<Bytes> key_name;
};

struct GetResult {
  std::optional<Record> record;
  bool local = false;    // answered from this node's storage or cache, without a lookup
  size_t rounds = 0;     // the lookup's hops (0 when local)
  size_t requests = 0;   // find requests sent
};

struct DhtNodeStats {
  uint64_t gets = 0;
  uint64_t gets_answered_locally = 0;
  uint64_t gets_sharing_a_lookup = 0;
  uint64_t lookups = 0;
  uint64_t lookup_requests = 0;
  uint64_t stores = 0;
  uint64_t cache_refreshes = 0;
  uint64_t bucket_refreshes = 0;
  uint64_t handoffs = 0;            // new nodes sent records (the join step)
  uint64_t handed_off_items = 0;    // items (a plain value or one subkey) sent in them
};

class DhtNode {
 public:
  using StoreCallback = std::function<void(std::vector<StoreResult>)>;
  using GetCallback = std::function<void(GetResult)>;
  using StatusCallback = std::function<void(net::Status)>;

  DhtNode(DhtTransport& transport, Scheduler& scheduler, NodeInfo self, const Clock& clock,
          uint64_t seed, DhtNodeOptions options = {});
  ~DhtNode();
  DhtNode(const DhtNode&) = delete;
  DhtNode& operator=(const DhtNode&) = delete;

  // Pings every initial peer, then looks up this node's id. Fails with kUnavailable (naming
  // each peer and why) when none answers. Starts the maintenance tick either way, which retries
  // the initial peers while the routing table is empty.
  void bootstrap(std::vector<net::SocketAddress> initial_peers, StatusCallback done);

  // One result per item, in order. Items may have different keys.
  void store(std::vector<StoreItem> items, StoreCallback done);
  void get(const DhtId& key, GetOptions options, GetCallback done);

  DhtProtocol& protocol() { return protocol_; }
  const NodeInfo& self() const { return protocol_.self(); }
  const DhtNodeStats& stats() const { return stats_; }

 private:
  struct PendingGet {
    std::optional<Bytes> key_name;
    std::vector<GetCallback> waiting;
  };
  struct CachedKey {
    DhtTime expiration = 0;
    bool read_since_fetch = false;
    Scheduler::TaskId refresh = 0;
    std::optional<Bytes> key_name;
  };

  void lookup(const DhtId& key, LookupOptions options, LookupCallback done);
  void store_key(const DhtId& key, std::vector<StoreItem> items, std::function<void(std::vector<StoreResult>)> done);
  void finish_get(const DhtId& key, bool latest, LookupResult lookup);
  void cache_found(const DhtId& key, const Record& record, const std::optional<Bytes>& key_name,
                   const LookupResult& lookup);
  void track_cached(const DhtId& key, DhtTime expiration, const std::optional<Bytes>& key_name);
  void refresh_cached(const DhtId& key);
  std::optional<Record> local_record(const DhtId& key);
  void hand_off_records(const NodeInfo& newcomer);
  void ping_initial_peers(StatusCallback done);
  void schedule_maintenance();
  void maintain();

  DhtProtocol protocol_;
  Scheduler& scheduler_;
  const Clock& clock_;
  RandomSource random_;
  DhtNodeOptions options_;
  std::vector<net::SocketAddress> initial_peers_;
  std::map<std::pair<DhtId, bool>, PendingGet> pending_gets_;  // by (key, latest)
  std::map<DhtId, CachedKey> cached_keys_;
  Scheduler::TaskId maintenance_ = 0;
  bool maintaining_ = false;
  bool bootstrapping_ = false;
  DhtNodeStats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Combines two records of one key as the storage rules would: dictionaries merge subkey by
// subkey (the later expiration wins each), otherwise the record expiring later wins.
Record merge_records(Record held, const Record& other);

}  // namespace hive::dht
