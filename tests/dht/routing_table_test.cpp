// The routing table: buckets that split hivemind-style, nearest-node queries against brute
// force, the ping-oldest / replacement-cache protocol of full buckets, and bucket refresh.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dht/routing/routing_table.h"

namespace hive::dht {
namespace {

net::SocketAddress address_of(size_t index) {
  auto parsed = net::SocketAddress::parse("10.0." + std::to_string(index / 250) + "." +
                                          std::to_string(index % 250 + 1) + ":" +
                                          std::to_string(4000 + index % 1000));
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  return parsed.is_ok() ? parsed.value() : net::SocketAddress();
}

// A random id that shares exactly `bits` (< 160) leading bits with `id`.
DhtId id_sharing_prefix(const DhtId& id, size_t bits, RandomSource& random) {
  const DhtId candidate = DhtId::random_with_prefix(id, bits, random);
  return candidate.with_bit(bits, !id.bit(bits));
}

// The id one above `id` (wrapping), to check that bucket ranges leave no gaps.
DhtId successor(const DhtId& id) {
  std::array<uint8_t, kIdBytes> bytes = id.bytes();
  for (size_t i = kIdBytes; i-- > 0;) {
    if (++bytes[i] != 0) break;
  }
  return DhtId(bytes);
}

std::vector<RoutingEntry> all_entries(const RoutingTable& table) {
  std::vector<RoutingEntry> entries;
  for (size_t index = 0; index < table.bucket_count(); ++index) {
    const auto& bucket_entries = table.bucket(index).entries();
    entries.insert(entries.end(), bucket_entries.begin(), bucket_entries.end());
  }
  return entries;
}

std::vector<DhtId> ids_of(const std::vector<RoutingEntry>& entries) {
  std::vector<DhtId> ids;
  for (const RoutingEntry& entry : entries) ids.push_back(entry.id);
  return ids;
}

std::vector<DhtId> brute_force_nearest(const std::vector<RoutingEntry>& entries,
                                       const DhtId& target, size_t count,
                                       const std::optional<DhtId>& exclude) {
  std::vector<DhtId> ids;
  for (const RoutingEntry& entry : entries) {
    if (!exclude || entry.id != *exclude) ids.push_back(entry.id);
  }
  std::sort(ids.begin(), ids.end(),
            [&](const DhtId& a, const DhtId& b) { return (a ^ target) < (b ^ target); });
  ids.resize(std::min(ids.size(), count));
  return ids;
}

// Adds `id` and expects it to go straight into its bucket.
void add_expecting(RoutingTable& table, const DhtId& id, size_t index, DhtTime now,
                   AddOutcome expected) {
  const AddResult result = table.add_or_update(id, address_of(index), now);
  ASSERT_EQ(result.outcome, expected) << id.to_hex();
}

// Checks the invariants a reader of the table relies on.
void expect_consistent(const RoutingTable& table) {
  ASSERT_GT(table.bucket_count(), 0u);
  EXPECT_EQ(table.bucket(0).lower(), DhtId());
  size_t entries = 0;
  for (size_t index = 0; index < table.bucket_count(); ++index) {
    const KBucket& bucket = table.bucket(index);
    EXPECT_EQ(table.bucket_index_of(bucket.lower()), index);
    EXPECT_EQ(table.bucket_index_of(bucket.last()), index);
    if (index + 1 < table.bucket_count()) {
      EXPECT_EQ(successor(bucket.last()), table.bucket(index + 1).lower()) << index;
    } else {
      EXPECT_EQ(successor(bucket.last()), DhtId()) << "the last bucket ends at 2^160";
    }
    EXPECT_LE(bucket.entries().size(), table.bucket_size());
    EXPECT_LE(bucket.replacements().size(), table.bucket_size());
    EXPECT_TRUE(bucket.replacements().empty() || bucket.is_full()) << index;
    for (size_t i = 0; i < bucket.entries().size(); ++i) {
      EXPECT_TRUE(bucket.contains(bucket.entries()[i].id));
      EXPECT_NE(bucket.entries()[i].id, table.node_id());
      if (i > 0) {
        EXPECT_LE(bucket.entries()[i - 1].last_seen, bucket.entries()[i].last_seen);
      }
    }
    for (const RoutingEntry& replacement : bucket.replacements()) {
      EXPECT_TRUE(bucket.contains(replacement.id));
    }
    entries += bucket.entries().size();
  }
  EXPECT_EQ(table.size(), entries);
}

TEST(RoutingTable, NearestEqualsBruteForce) {
  RandomSource random(2024);
  const DhtId self = DhtId::random(random);
  RoutingTable table(self, 0);
  std::vector<DhtId> added;
  for (size_t i = 0; i < 2000; ++i) {
    const DhtId id = DhtId::random(random);
    added.push_back(id);
    (void)table.add_or_update(id, address_of(i), static_cast<DhtTime>(i));
  }
  expect_consistent(table);
  const std::vector<RoutingEntry> entries = all_entries(table);
  ASSERT_GT(entries.size(), 100u);
  ASSERT_LT(entries.size(), added.size()) << "far buckets should have filled up";

  for (int t = 0; t < 200; ++t) {
    // Random targets, targets equal to a stored id, our own id, and ids next to ours.
    DhtId target = DhtId::random(random);
    if (t % 4 == 1) target = entries[random.below(entries.size())].id;
    if (t % 4 == 2) target = id_sharing_prefix(self, 100 + random.below(60), random);
    if (t == 3) target = self;
    const std::optional<DhtId> excludes[] = {std::nullopt,
                                             brute_force_nearest(entries, target, 1, {})[0],
                                             entries[random.below(entries.size())].id};
    for (const size_t count : {1, 5, 20, 50}) {
      for (const auto& exclude : excludes) {
        const std::vector<RoutingEntry> nearest = table.nearest(target, count, exclude);
        ASSERT_EQ(ids_of(nearest), brute_force_nearest(entries, target, count, exclude))
            << "target " << target.to_hex() << " count " << count;
        for (const RoutingEntry& entry : nearest) {
          const auto found = table.find(entry.id);
          ASSERT_TRUE(found.has_value());
          EXPECT_EQ(found->address, entry.address);
        }
      }
    }
  }
}

TEST(RoutingTable, NearestWithSmallBucketsEqualsBruteForce) {
  // Small buckets and depth_modulo 1 (no extra splits): many buckets, few entries each.
  for (const size_t depth_modulo : {1, 3}) {
    RandomSource random(99 + depth_modulo);
    RoutingTable table(DhtId::random(random), 0, 2, depth_modulo);
    for (size_t i = 0; i < 500; ++i) {
      (void)table.add_or_update(DhtId::random(random), address_of(i), static_cast<DhtTime>(i));
    }
    expect_consistent(table);
    const std::vector<RoutingEntry> entries = all_entries(table);
    for (int t = 0; t < 100; ++t) {
      const DhtId target = DhtId::random(random);
      for (const size_t count : {1, 3, 7, 1000}) {
        ASSERT_EQ(ids_of(table.nearest(target, count)),
                  brute_force_nearest(entries, target, count, std::nullopt));
      }
    }
  }
}

TEST(RoutingTable, NearestOfEmptyOrZeroIsEmpty) {
  RandomSource random(1);
  RoutingTable table(DhtId::random(random), 0);
  EXPECT_TRUE(table.nearest(DhtId::random(random), 5).empty());
  (void)table.add_or_update(DhtId::random(random), address_of(0), 1);
  EXPECT_TRUE(table.nearest(DhtId::random(random), 0).empty());
  EXPECT_EQ(table.nearest(DhtId::random(random), 5).size(), 1u);
}

TEST(RoutingTable, SplittingKeepsOwnNeighbourhoodComplete) {
  RandomSource random(31337);
  const DhtId self = DhtId::random(random);
  RoutingTable table(self, 0);
  // Three neighbours sharing each prefix length from 12 to 159 bits with us (fewer where the
  // range is that small), among 3000 random nodes that fill the far buckets; shuffled.
  std::set<DhtId> unique;
  for (size_t bits = 12; bits < kIdBits; ++bits) {
    for (int i = 0; i < 3; ++i) unique.insert(id_sharing_prefix(self, bits, random));
  }
  for (int i = 0; i < 3000; ++i) unique.insert(DhtId::random(random));
  std::vector<DhtId> ids(unique.begin(), unique.end());
  for (size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[random.below(i)]);
  for (size_t i = 0; i < ids.size(); ++i) {
    (void)table.add_or_update(ids[i], address_of(i), static_cast<DhtTime>(i));
  }
  expect_consistent(table);
  ASSERT_LT(table.size(), ids.size());

  // Every node that shares 12 or more bits with us is kept: at most a few share each prefix
  // length, and buckets on our own id's path always split.
  size_t neighbours = 0;
  for (const DhtId& id : ids) {
    if (common_prefix_bits(id, self) >= 12) {
      ++neighbours;
      EXPECT_TRUE(table.find(id).has_value()) << common_prefix_bits(id, self);
    }
  }
  EXPECT_GT(neighbours, 300u);
  // And they are what a lookup of our own id returns.
  const std::vector<RoutingEntry> nearest = table.nearest(self, neighbours);
  for (const RoutingEntry& entry : nearest) EXPECT_GE(common_prefix_bits(entry.id, self), 12u);
}

TEST(RoutingTable, FarBucketsSplitOnlyToDepthModulo) {
  RandomSource random(77);
  const DhtId self = DhtId::random(random);
  RoutingTable table(self, 0);
  for (size_t i = 0; i < 5000; ++i) {
    (void)table.add_or_update(DhtId::random(random), address_of(i), static_cast<DhtTime>(i));
  }
  for (size_t index = 0; index < table.bucket_count(); ++index) {
    const KBucket& bucket = table.bucket(index);
    if (bucket.contains(self)) continue;
    // A bucket off our path hangs off it at depth d (its first bit unlike ours), so it was
    // created at depth d + 1 and split only while its depth was not a multiple of 5.
    const size_t branch_depth = common_prefix_bits(bucket.lower(), self) + 1;
    const size_t limit = std::max(branch_depth, (branch_depth + 4) / 5 * 5);
    EXPECT_LE(bucket.depth(), limit) << index;
  }
}

// A table whose one bucket holds 20 far nodes (first five bits 10000; ours start with 0) seen at
// times 100..119. The next far newcomer splits the bucket down to depth 5, where it stops: a
// depth that is a multiple of depth_modulo, away from our own id.
class FullFarBucket : public ::testing::Test {
 protected:
  FullFarBucket() : table_(self_id(), 0) {
    for (size_t i = 0; i < 20; ++i) {
      far_.push_back(far_id());
      const AddResult result = table_.add_or_update(far_[i], address_of(i), 100 + i);
      EXPECT_EQ(result.outcome, AddOutcome::kAdded) << i;
    }
  }

  static DhtId self_id() {
    RandomSource seeded(5);
    return DhtId::random(seeded).with_bit(0, false);
  }
  DhtId far_id() {
    DhtId id = DhtId::random(random_).with_bit(0, true);
    for (size_t index = 1; index < 5; ++index) id = id.with_bit(index, false);
    return id;
  }
  // The bucket that holds (or held) the far nodes; splits move it.
  const KBucket& far_bucket() const { return table_.bucket(table_.bucket_index_of(far_[0])); }

  RandomSource random_{8};
  RoutingTable table_;
  std::vector<DhtId> far_;
};

TEST_F(FullFarBucket, NewcomerWaitsAndOldestIsToBePinged) {
  const DhtId newcomer = far_id();
  const AddResult result = table_.add_or_update(newcomer, address_of(50), 200);
  ASSERT_EQ(result.outcome, AddOutcome::kBucketFullPingOldest);
  ASSERT_TRUE(result.to_ping.has_value());
  EXPECT_EQ(result.to_ping->id, far_[0]);
  EXPECT_EQ(result.to_ping->last_seen, 100);
  EXPECT_EQ(result.to_ping->address, address_of(0));
  EXPECT_FALSE(table_.find(newcomer).has_value());
  EXPECT_EQ(table_.size(), 20u);
  ASSERT_EQ(far_bucket().replacements().size(), 1u);
  EXPECT_EQ(far_bucket().replacements()[0].id, newcomer);
  EXPECT_EQ(far_bucket().depth(), 5u) << "a far bucket at depth 5 does not split";
  expect_consistent(table_);
}

TEST_F(FullFarBucket, FailedPingPromotesMostRecentReplacement) {
  const DhtId first = far_id();
  const DhtId second = far_id();
  const AddResult first_result = table_.add_or_update(first, address_of(50), 200);
  ASSERT_EQ(first_result.outcome, AddOutcome::kBucketFullPingOldest);
  EXPECT_EQ(first_result.to_ping->id, far_[0]);
  const AddResult second_result = table_.add_or_update(second, address_of(51), 201);
  ASSERT_EQ(second_result.outcome, AddOutcome::kBucketFullPingOldest);
  EXPECT_EQ(second_result.to_ping->id, far_[1]) << "far_[0] already awaits a ping";

  // far_[0] does not answer: it goes, and the most recent newcomer takes its place.
  EXPECT_TRUE(table_.remove(far_[0]));
  EXPECT_FALSE(table_.find(far_[0]).has_value());
  const auto promoted = table_.find(second);
  ASSERT_TRUE(promoted.has_value());
  EXPECT_EQ(promoted->address, address_of(51));
  EXPECT_EQ(promoted->last_seen, 201);
  EXPECT_EQ(far_bucket().entries().back().id, second);
  ASSERT_EQ(far_bucket().replacements().size(), 1u);
  EXPECT_EQ(far_bucket().replacements()[0].id, first);
  EXPECT_EQ(table_.size(), 20u);
  expect_consistent(table_);
}

TEST_F(FullFarBucket, AnsweredPingMovesOldestToMostRecent) {
  const DhtId newcomer = far_id();
  const AddResult result = table_.add_or_update(newcomer, address_of(50), 200);
  ASSERT_EQ(result.outcome, AddOutcome::kBucketFullPingOldest);
  // far_[0] answers the ping: it stays, newest now, and the newcomer keeps waiting.
  add_expecting(table_, far_[0], 0, 210, AddOutcome::kUpdated);
  EXPECT_EQ(far_bucket().entries().back().id, far_[0]);
  EXPECT_EQ(far_bucket().entries().front().id, far_[1]);
  EXPECT_FALSE(table_.find(newcomer).has_value());
  // The next newcomer's ping goes to far_[1], now the least recently seen.
  const AddResult next = table_.add_or_update(far_id(), address_of(51), 220);
  ASSERT_EQ(next.outcome, AddOutcome::kBucketFullPingOldest);
  EXPECT_EQ(next.to_ping->id, far_[1]);
}

TEST_F(FullFarBucket, NothingToPingWhenEveryNodeAwaitsAPing) {
  for (size_t i = 0; i < 20; ++i) {
    const AddResult result = table_.add_or_update(far_id(), address_of(50 + i), 200 + i);
    ASSERT_EQ(result.outcome, AddOutcome::kBucketFullPingOldest);
    EXPECT_EQ(result.to_ping->id, far_[i]);
  }
  const AddResult result = table_.add_or_update(far_id(), address_of(80), 300);
  EXPECT_EQ(result.outcome, AddOutcome::kBucketFullPingsPending);
  EXPECT_FALSE(result.to_ping.has_value());
}

TEST_F(FullFarBucket, ReplacementCacheKeepsMostRecentNewcomers) {
  std::vector<DhtId> newcomers;
  for (size_t i = 0; i < 30; ++i) {
    newcomers.push_back(far_id());
    (void)table_.add_or_update(newcomers.back(), address_of(50 + i), 200 + i);
  }
  const auto& replacements = far_bucket().replacements();
  ASSERT_EQ(replacements.size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(replacements[i].id, newcomers[10 + i]);
  // A waiting newcomer heard from again becomes the most recent replacement.
  (void)table_.add_or_update(newcomers[10], address_of(99), 400);
  EXPECT_EQ(far_bucket().replacements().back().id, newcomers[10]);
  EXPECT_EQ(far_bucket().replacements().size(), 20u);
  // Removing a replacement drops it only.
  EXPECT_TRUE(table_.remove(newcomers[15]));
  EXPECT_EQ(far_bucket().replacements().size(), 19u);
  EXPECT_EQ(table_.size(), 20u);
  expect_consistent(table_);
}

TEST_F(FullFarBucket, RemovingWithoutReplacementsLeavesRoom) {
  EXPECT_TRUE(table_.remove(far_[3]));
  EXPECT_FALSE(table_.remove(far_[3]));
  EXPECT_EQ(table_.size(), 19u);
  EXPECT_FALSE(far_bucket().is_full());
  add_expecting(table_, far_id(), 60, 300, AddOutcome::kAdded);
  EXPECT_EQ(table_.size(), 20u);
}

TEST(RoutingTable, NeverAddsSelf) {
  RandomSource random(4);
  const DhtId self = DhtId::random(random);
  RoutingTable table(self, 0);
  add_expecting(table, self, 0, 1, AddOutcome::kIsSelf);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.find(self).has_value());
  for (size_t i = 0; i < 200; ++i)
    (void)table.add_or_update(DhtId::random(random), address_of(i), 2);
  add_expecting(table, self, 0, 3, AddOutcome::kIsSelf);
  EXPECT_FALSE(table.find(self).has_value());
  for (const RoutingEntry& entry : table.nearest(self, 1000)) EXPECT_NE(entry.id, self);
  expect_consistent(table);
}

TEST(RoutingTable, UpdateMovesNodeToMostRecentWithNewAddress) {
  RandomSource random(6);
  RoutingTable table(DhtId::random(random), 0);
  const DhtId a = DhtId::random(random);
  const DhtId b = DhtId::random(random);
  const DhtId c = DhtId::random(random);
  add_expecting(table, a, 1, 10, AddOutcome::kAdded);
  add_expecting(table, b, 2, 11, AddOutcome::kAdded);
  add_expecting(table, c, 3, 12, AddOutcome::kAdded);
  add_expecting(table, a, 9, 13, AddOutcome::kUpdated);
  EXPECT_EQ(table.size(), 3u);
  ASSERT_EQ(table.bucket_count(), 1u);
  EXPECT_EQ(ids_of(table.bucket(0).entries()), (std::vector<DhtId>{b, c, a}));
  const auto found = table.find(a);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->address, address_of(9));
  EXPECT_EQ(found->last_seen, 13);
}

TEST(RoutingTable, RemoveUnknownIdReturnsFalse) {
  RandomSource random(12);
  RoutingTable table(DhtId::random(random), 0);
  EXPECT_FALSE(table.remove(DhtId::random(random)));
  const DhtId id = DhtId::random(random);
  add_expecting(table, id, 0, 1, AddOutcome::kAdded);
  EXPECT_TRUE(table.remove(id));
  EXPECT_EQ(table.size(), 0u);
}

TEST(RoutingTable, StaleBucketsGiveIdsInsideExactlyTheStaleBuckets) {
  RandomSource random(555);
  const DhtId self = DhtId::random(random);
  RoutingTable table(self, 1000);
  for (size_t i = 0; i < 1000; ++i) {
    (void)table.add_or_update(DhtId::random(random), address_of(i), 1000);
  }
  ASSERT_GT(table.bucket_count(), 10u);
  constexpr DhtTime kPeriod = 60000;
  EXPECT_TRUE(table.stale_buckets(1000 + kPeriod - 1, kPeriod, random).empty());

  // Touch every third bucket later: by a contact from a node in it, or by a refresh.
  std::set<size_t> fresh;
  for (size_t index = 0; index < table.bucket_count(); index += 3) {
    const KBucket& bucket = table.bucket(index);
    if (index % 2 == 0 && !bucket.entries().empty()) {
      (void)table.add_or_update(bucket.entries().front().id, address_of(index), 50000);
    } else {
      table.mark_refreshed(DhtId::random_with_prefix(bucket.lower(), bucket.depth(), random),
                           50000);
    }
    fresh.insert(index);
  }
  const DhtTime now = 1000 + kPeriod;
  const std::vector<DhtId> refresh_ids = table.stale_buckets(now, kPeriod, random);
  ASSERT_EQ(refresh_ids.size(), table.bucket_count() - fresh.size());
  std::set<size_t> covered;
  for (const DhtId& id : refresh_ids) {
    const size_t index = table.bucket_index_of(id);
    const KBucket& bucket = table.bucket(index);
    EXPECT_TRUE(bucket.contains(id));
    EXPECT_GE(id, bucket.lower());
    EXPECT_LE(id, bucket.last());
    EXPECT_GE(now - bucket.last_updated(), kPeriod);
    EXPECT_EQ(fresh.count(index), 0u);
    covered.insert(index);
  }
  EXPECT_EQ(covered.size(), refresh_ids.size()) << "one id per stale bucket";
}

}  // namespace
}  // namespace hive::dht
