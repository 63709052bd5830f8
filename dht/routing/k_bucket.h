// One k-bucket of a routing table: the known nodes whose ids share the bucket's first `depth`
// bits, at most `capacity` of them, plus a bounded cache of newcomers that arrived while the
// bucket was full (they replace nodes that stop answering). Single-threaded (the I/O thread).
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "dht/core/dht_id.h"
#include "dht/core/dht_time.h"
#include "net/transport/socket_address.h"

namespace hive::dht {

// A node that the routing table knows: its id, where it answers, and when we last heard from it.
struct RoutingEntry {
  DhtId id;
  net::SocketAddress address;
  DhtTime last_seen = 0;
};

enum class BucketAdd {
  kAdded,    // a new entry, there was room
  kUpdated,  // an entry that was there: address and last_seen replaced
  kFull,     // a new id and no room: nothing changed
};

class KBucket {
 public:
  // The ids that share the first `depth` (0..160) bits of `lower`; `lower`'s other bits are 0.
  KBucket(const DhtId& lower, size_t depth, size_t capacity, DhtTime last_updated);

  // The range is [lower, lower + 2^(160 - depth)); its end does not fit an id when it is 2^160,
  // so the range is given by its first and last ids.
  const DhtId& lower() const { return lower_; }
  DhtId last() const;
  size_t depth() const { return depth_; }
  bool contains(const DhtId& id) const { return common_prefix_bits(id, lower_) >= depth_; }

  size_t capacity() const { return capacity_; }
  bool is_full() const { return entries_.size() >= capacity_; }
  // Ordered by last_seen, least recently seen first.
  const std::vector<RoutingEntry>& entries() const { return entries_; }
  // Newcomers waiting for room, least recently seen first; at most `capacity`. Never empty
  // while the bucket has room.
  const std::vector<RoutingEntry>& replacements() const { return replacements_; }
  // When a node of this range last contacted us, or the bucket was last refreshed.
  DhtTime last_updated() const { return last_updated_; }
  // The entry with this id (not a replacement), or null. Valid until the bucket changes.
  const RoutingEntry* find(const DhtId& id) const;

  // The changes below are the routing table's; they keep the invariants above.

  // Replaces a known entry (kUpdated) or adds a new one when there is room (kAdded), in
  // last_seen order; a new id without room changes nothing (kFull). Clears a pending ping.
  BucketAdd add_or_update(const RoutingEntry& entry);
  // Puts a newcomer into the replacement cache (as most recent when its last_seen is the
  // latest); the least recently seen replacement goes when the cache is over capacity.
  void add_replacement(const RoutingEntry& entry);
  // The least recently seen entry that is not already waiting for a ping, now marked as
  // waiting; nullopt when every entry is. The mark goes when the node is updated or removed.
  std::optional<RoutingEntry> take_ping_candidate();
  // Removes an entry (and promotes the most recently seen replacement into its place) or a
  // replacement. False when the id is in neither.
  bool remove(const DhtId& id);
  // The two halves of the range (depth + 1), each with its entries, then as many replacements
  // as fit promoted, the rest still replacements. Both keep this bucket's last_updated.
  std::pair<KBucket, KBucket> split() const;
  void touch(DhtTime now) { last_updated_ = now; }

 private:
  bool is_waiting_for_ping(const DhtId& id) const;
  void clear_waiting_for_ping(const DhtId& id);
  // Inserts `entry` into `list` after every entry seen no later than it.
  static void insert_by_last_seen(std::vector<RoutingEntry>& list, const RoutingEntry& entry);

  DhtId lower_;
  size_t depth_;
  size_t capacity_;
  DhtTime last_updated_;
  std::vector<RoutingEntry> entries_;
  std::vector<RoutingEntry> replacements_;
  std::vector<DhtId> waiting_for_ping_;  // entries handed out by take_ping_candidate
};

}  // namespace hive::dht
