#include "dht/routing/routing_table.h"

#include <algorithm>
#include <utility>

#include "net/core/check.h"

namespace hive::dht {

RoutingTable::RoutingTable(const DhtId& node_id, DhtTime created, size_t bucket_size,
                           size_t depth_modulo)
    : node_id_(node_id), bucket_size_(bucket_size), depth_modulo_(depth_modulo) {
  HIVE_NET_CHECK(bucket_size > 0, "routing table bucket size must be positive");
  HIVE_NET_CHECK(depth_modulo > 0, "routing table depth_modulo must be positive");
  buckets_.emplace_back(DhtId(), 0, bucket_size, created);
}

bool RoutingTable::may_split(const KBucket& bucket) const {
  return bucket.depth() < kIdBits &&
         (bucket.contains(node_id_) || bucket.depth() % depth_modulo_ != 0);
}

void RoutingTable::split_bucket(size_t index) {
  const size_t entries_before = buckets_[index].entries().size();
  auto [left, right] = buckets_[index].split();
  size_ = size_ - entries_before + left.entries().size() + right.entries().size();
  buckets_[index] = std::move(left);
  buckets_.insert(buckets_.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(right));
}

AddResult RoutingTable::add_or_update(const DhtId& id, const net::SocketAddress& address,
                                      DhtTime now) {
  if (id == node_id_) return {AddOutcome::kIsSelf, std::nullopt};
  const RoutingEntry entry{id, address, now};
  for (;;) {
    const size_t index = bucket_index_of(id);
    KBucket& bucket = buckets_[index];
    if (bucket.find(id) != nullptr || !bucket.is_full()) {
      const BucketAdd added = bucket.add_or_update(entry);
      HIVE_NET_CHECK(added != BucketAdd::kFull, "bucket had room for ", id.to_hex());
      bucket.touch(now);
      if (added == BucketAdd::kAdded) {
        ++size_;
        return {AddOutcome::kAdded, std::nullopt};
      }
      return {AddOutcome::kUpdated, std::nullopt};
    }
    if (may_split(bucket)) {
      split_bucket(index);
      continue;  // each split halves the range, so this ends by depth 160
    }
    bucket.add_replacement(entry);
    bucket.touch(now);
    if (auto oldest = bucket.take_ping_candidate()) {
      return {AddOutcome::kBucketFullPingOldest, std::move(oldest)};
    }
    return {AddOutcome::kBucketFullPingsPending, std::nullopt};
  }
}

bool RoutingTable::remove(const DhtId& id) {
  KBucket& bucket = buckets_[bucket_index_of(id)];
  const size_t entries_before = bucket.entries().size();
  if (!bucket.remove(id)) return false;
  size_ = size_ - entries_before + bucket.entries().size();
  return true;
}

std::optional<RoutingEntry> RoutingTable::find(const DhtId& id) const {
  if (const RoutingEntry* entry = bucket(bucket_index_of(id)).find(id)) return *entry;
  return std::nullopt;
}

std::vector<RoutingEntry> RoutingTable::nearest(const DhtId& target, size_t count,
                                                const std::optional<DhtId>& exclude) const {
  if (count == 0 || size_ == 0) return {};
  // Buckets are disjoint prefix ranges, so for any two of them every id of one is nearer to
  // `target` than every id of the other: their prefixes first differ at a bit inside both, and
  // the nearer is the one that agrees with `target` there. Their lower bounds first differ at
  // that same bit, so the order of (lower ^ target) is that order. Walk the buckets nearest
  // first and stop once `count` entries are in hand: every later entry is farther than those.
  std::vector<std::pair<DhtId, size_t>> bucket_order;  // (lower ^ target, bucket index)
  bucket_order.reserve(buckets_.size());
  for (size_t index = 0; index < buckets_.size(); ++index) {
    bucket_order.emplace_back(buckets_[index].lower() ^ target, index);
  }
  std::sort(bucket_order.begin(), bucket_order.end());

  std::vector<std::pair<DhtId, const RoutingEntry*>> candidates;  // (distance, entry)
  for (const auto& [key, index] : bucket_order) {
    for (const RoutingEntry& entry : buckets_[index].entries()) {
      if (exclude && entry.id == *exclude) continue;
      candidates.emplace_back(entry.id ^ target, &entry);
    }
    if (candidates.size() >= count) break;
  }
  const size_t kept = std::min(count, candidates.size());
  // Distances of distinct ids differ, so comparing them alone is a strict total order.
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(kept),
                    candidates.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<RoutingEntry> result;
  result.reserve(kept);
  for (size_t i = 0; i < kept; ++i) result.push_back(*candidates[i].second);
  return result;
}

std::vector<DhtId> RoutingTable::stale_buckets(DhtTime now, DhtTime refresh_period,
                                               RandomSource& random) const {
  std::vector<DhtId> refresh_ids;
  for (const KBucket& candidate : buckets_) {
    if (now - candidate.last_updated() >= refresh_period) {
      refresh_ids.push_back(
          DhtId::random_with_prefix(candidate.lower(), candidate.depth(), random));
    }
  }
  return refresh_ids;
}

void RoutingTable::mark_refreshed(const DhtId& id, DhtTime now) {
  buckets_[bucket_index_of(id)].touch(now);
}

const KBucket& RoutingTable::bucket(size_t index) const {
  HIVE_NET_CHECK(index < buckets_.size(), "bucket ", index, " of ", buckets_.size());
  return buckets_[index];
}

size_t RoutingTable::bucket_index_of(const DhtId& id) const {
  // The last bucket whose lower bound is <= id; the first bucket starts at 0, so there is one.
  const auto after = std::upper_bound(
      buckets_.begin(), buckets_.end(), id,
      [](const DhtId& value, const KBucket& candidate) { return value < candidate.lower(); });
  return static_cast<size_t>(after - buckets_.begin()) - 1;
}

}  // namespace hive::dht
