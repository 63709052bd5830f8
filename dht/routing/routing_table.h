// The Kademlia routing table of one node: the other nodes it knows, in k-buckets that cover the
// 160-bit id space. It starts as one bucket; a full bucket splits in two when it contains our own
// id or its depth is not a multiple of depth_modulo (hivemind's rule, Kademlia's parameter b), so
// our own neighbourhood is known completely and far ranges coarsely. A full bucket that may not
// split keeps newcomers in its replacement cache and asks the caller to ping its least recently
// seen node: one that answers stays, one that does not is removed and the most recently seen
// newcomer takes its place. Single-threaded: it lives on the I/O thread; time is a parameter.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "dht/core/dht_id.h"
#include "dht/core/dht_time.h"
#include "dht/core/random_source.h"
#include "dht/routing/k_bucket.h"
#include "net/transport/socket_address.h"

namespace hive::dht {

enum class AddOutcome {
  kAdded,    // a new node, now its bucket's most recently seen
  kUpdated,  // a known node: address and last_seen replaced, now its bucket's most recently seen
  // Its bucket is full and may not split: the node waits in the bucket's replacement cache, and
  // the caller should ping AddResult::to_ping, then call add_or_update for it when it answers
  // or remove it when it does not (which promotes the most recently seen replacement).
  kBucketFullPingOldest,
  // As above, but every node of the bucket already waits for a ping: nothing new to ping.
  kBucketFullPingsPending,
  kIsSelf,  // our own id: never added
};

struct AddResult {
  AddOutcome outcome;
  std::optional<RoutingEntry> to_ping;  // with kBucketFullPingOldest only
};

class RoutingTable {
 public:
  static constexpr size_t kDefaultBucketSize = 20;  // Kademlia's k
  static constexpr size_t kDefaultDepthModulo = 5;  // Kademlia's b

  // `created` is the first bucket's last_updated (for stale_buckets).
  RoutingTable(const DhtId& node_id, DhtTime created, size_t bucket_size = kDefaultBucketSize,
               size_t depth_modulo = kDefaultDepthModulo);

  const DhtId& node_id() const { return node_id_; }
  size_t bucket_size() const { return bucket_size_; }
  size_t depth_modulo() const { return depth_modulo_; }

  // Records that `id` was heard from at `now` (a request or an answer from it).
  [[nodiscard]] AddResult add_or_update(const DhtId& id, const net::SocketAddress& address,
                                        DhtTime now);
  // Drops a node that failed to answer (and promotes its bucket's most recently seen
  // replacement), or a waiting replacement. False when the id is unknown.
  bool remove(const DhtId& id);

  // A copy of the entry for `id` (replacements are not entries), or nullopt.
  std::optional<RoutingEntry> find(const DhtId& id) const;
  // Entries in all buckets (replacements not counted).
  size_t size() const { return size_; }

  // The `count` entries nearest to `target` by XOR distance, nearest first, leaving out
  // `exclude` (say, the node that asked). Fewer when the table holds fewer.
  std::vector<RoutingEntry> nearest(const DhtId& target, size_t count,
                                    const std::optional<DhtId>& exclude = std::nullopt) const;

  // For each bucket not updated for `refresh_period` ms (now - last_updated >= refresh_period),
  // a random id inside it: looking it up refreshes the bucket. In bucket order.
  std::vector<DhtId> stale_buckets(DhtTime now, DhtTime refresh_period, RandomSource& random) const;
  // Marks the bucket holding `id` as refreshed at `now` (after a lookup of an id inside it).
  void mark_refreshed(const DhtId& id, DhtTime now);

  // Buckets in id order; together their ranges cover the id space once.
  size_t bucket_count() const { return buckets_.size(); }
  const KBucket& bucket(size_t index) const;
  size_t bucket_index_of(const DhtId& id) const;

 private:
  bool may_split(const KBucket& bucket) const;
  void split_bucket(size_t index);

  DhtId node_id_;
  size_t bucket_size_;
  size_t depth_modulo_;
  std::vector<KBucket> buckets_;  // sorted by lower bound
  size_t size_ = 0;
};

}  // namespace hive::dht
