// One iterative Kademlia lookup of a key (hivemind's traverse_dht for one query): starting from
// the routing table's nearest nodes, it keeps `parallelism` find requests in flight to the
// closest nodes not asked yet, merges the nodes each answer names, and ends when the `nearest`
// closest live nodes have all answered (or, for a get, at the first record fresh enough).
//
// Adaptive timeouts and hedging: a request that takes longer than its peer's usual round trip
// (PeerHealth::slow_after) stops counting against `parallelism`, so the next closest node is
// asked at once; a few times later (PeerHealth::give_up_after, 0.2-2 s) the lookup stops waiting
// for it, so a dead node costs a bounded wait rather than the protocol's 3 s timeout (which
// decides when a peer is dropped). A late answer is still used if it comes in time.
// Peers in back-off after a failure are not asked.
//
// Threads: the protocol's thread. A lookup keeps itself alive until it has finished.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "dht/node/dht_protocol.h"

namespace hive::dht {

struct LookupOptions {
  size_t parallelism = 3;  // Kademlia's alpha
  size_t nearest = 20;     // Kademlia's k: how many nearest nodes the lookup must hear from
  // A get's early stop: end at the first plain record that expires no earlier than this, or
  // once `dictionary_views` nodes have answered with such a dictionary. One node's dictionary
  // may lack subkeys that other stores put on slightly different nearest nodes (under load or
  // churn); merging a few views makes a partial answer rare.
  std::optional<DhtTime> stop_at_expiration;
  size_t dictionary_views = 2;
  // A get that has found nothing yet keeps waiting for the nodes it gave up on (until they
  // answer or fail at the protocol's timeout): on a loaded host the holders of a value may be
  // exactly the slow ones, and "not found" must not come from impatience.
  bool await_given_up_until_found = false;
};

struct FoundAt {
  NodeInfo node;
  Record record;
};

struct LookupResult {
  DhtId key;
  // Nodes that answered, nearest to the key first, at most LookupOptions::nearest.
  std::vector<NodeInfo> nearest;
  // Every unexpired record an answer carried, in the order they came.
  std::vector<FoundAt> found;
  // Nodes that answered without a record, nearest first (where a found value may be cached).
  std::vector<NodeInfo> without_record;
  // Hops: the routing table's nodes are hop 1, the nodes they name hop 2, ... For an early stop,
  // the hop of the node that had the value; otherwise the farthest hop among `nearest`.
  size_t rounds = 0;
  size_t requests = 0;  // find requests sent
  bool stopped_early = false;
};

using LookupCallback = std::function<void(LookupResult)>;

// Starts a lookup; `done` runs exactly once (at once when the routing table is empty).
void start_lookup(DhtProtocol& protocol, const DhtId& key, LookupOptions options, LookupCallback done);

}  // namespace hive::dht
