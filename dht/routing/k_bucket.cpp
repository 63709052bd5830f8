#include "dht/routing/k_bucket.h"

#include <algorithm>

#include "net/core/check.h"

namespace hive::dht {

namespace {

auto find_id(std::vector<RoutingEntry>& list, const DhtId& id) {
  return std::find_if(list.begin(), list.end(),
                      [&](const RoutingEntry& entry) { return entry.id == id; });
}

}  // namespace

KBucket::KBucket(const DhtId& lower, size_t depth, size_t capacity, DhtTime last_updated)
    : lower_(lower), depth_(depth), capacity_(capacity), last_updated_(last_updated) {
  HIVE_NET_CHECK(depth <= kIdBits, "bucket depth ", depth, " exceeds ", kIdBits, " bits");
  HIVE_NET_CHECK(capacity > 0, "a bucket needs room for at least one node");
  HIVE_NET_CHECK(lower.prefix(depth) == lower, "bucket lower bound ", lower.to_hex(),
                 " has bits set past depth ", depth);
}

DhtId KBucket::last() const {
  DhtId id = lower_;
  for (size_t index = depth_; index < kIdBits; ++index) id = id.with_bit(index, true);
  return id;
}

const RoutingEntry* KBucket::find(const DhtId& id) const {
  for (const RoutingEntry& entry : entries_) {
    if (entry.id == id) return &entry;
  }
  return nullptr;
}

void KBucket::insert_by_last_seen(std::vector<RoutingEntry>& list, const RoutingEntry& entry) {
  const auto position = std::upper_bound(
      list.begin(), list.end(), entry.last_seen,
      [](DhtTime time, const RoutingEntry& other) { return time < other.last_seen; });
  list.insert(position, entry);
}

BucketAdd KBucket::add_or_update(const RoutingEntry& entry) {
  HIVE_NET_CHECK(contains(entry.id), "id ", entry.id.to_hex(), " is outside the bucket at ",
                 lower_.to_hex(), " depth ", depth_);
  BucketAdd outcome = BucketAdd::kAdded;
  if (auto known = find_id(entries_, entry.id); known != entries_.end()) {
    entries_.erase(known);
    outcome = BucketAdd::kUpdated;
  } else if (is_full()) {
    return BucketAdd::kFull;
  }
  if (auto waiting = find_id(replacements_, entry.id); waiting != replacements_.end()) {
    replacements_.erase(waiting);
  }
  clear_waiting_for_ping(entry.id);
  insert_by_last_seen(entries_, entry);
  return outcome;
}

void KBucket::add_replacement(const RoutingEntry& entry) {
  HIVE_NET_CHECK(contains(entry.id), "id ", entry.id.to_hex(), " is outside the bucket at ",
                 lower_.to_hex(), " depth ", depth_);
  HIVE_NET_CHECK(find(entry.id) == nullptr, "replacement ", entry.id.to_hex(),
                 " is already an entry of its bucket");
  if (auto known = find_id(replacements_, entry.id); known != replacements_.end()) {
    replacements_.erase(known);
  }
  insert_by_last_seen(replacements_, entry);
  if (replacements_.size() > capacity_) replacements_.erase(replacements_.begin());
}

std::optional<RoutingEntry> KBucket::take_ping_candidate() {
  for (const RoutingEntry& entry : entries_) {
    if (!is_waiting_for_ping(entry.id)) {
      waiting_for_ping_.push_back(entry.id);
      return entry;
    }
  }
  return std::nullopt;
}

bool KBucket::remove(const DhtId& id) {
  if (auto known = find_id(entries_, id); known != entries_.end()) {
    entries_.erase(known);
    clear_waiting_for_ping(id);
    if (!replacements_.empty()) {
      insert_by_last_seen(entries_, replacements_.back());
      replacements_.pop_back();
    }
    return true;
  }
  if (auto waiting = find_id(replacements_, id); waiting != replacements_.end()) {
    replacements_.erase(waiting);
    return true;
  }
  return false;
}

std::pair<KBucket, KBucket> KBucket::split() const {
  HIVE_NET_CHECK(depth_ < kIdBits, "a bucket of one id (depth ", depth_, ") cannot split");
  KBucket left(lower_, depth_ + 1, capacity_, last_updated_);
  KBucket right(lower_.with_bit(depth_, true), depth_ + 1, capacity_, last_updated_);
  auto half_of = [&](const DhtId& id) -> KBucket& { return id.bit(depth_) ? right : left; };
  for (const RoutingEntry& entry : entries_) {
    KBucket& half = half_of(entry.id);
    const BucketAdd added = half.add_or_update(entry);  // a half holds at most what we hold
    HIVE_NET_CHECK(added == BucketAdd::kAdded, "split lost entry ", entry.id.to_hex());
    if (is_waiting_for_ping(entry.id)) half.waiting_for_ping_.push_back(entry.id);
  }
  for (const RoutingEntry& entry : replacements_) {
    KBucket& half = half_of(entry.id);
    if (half.add_or_update(entry) == BucketAdd::kFull) half.add_replacement(entry);
  }
  return {std::move(left), std::move(right)};
}

bool KBucket::is_waiting_for_ping(const DhtId& id) const {
  return std::find(waiting_for_ping_.begin(), waiting_for_ping_.end(), id) !=
         waiting_for_ping_.end();
}

void KBucket::clear_waiting_for_ping(const DhtId& id) { std::erase(waiting_for_ping_, id); }

}  // namespace hive::dht
