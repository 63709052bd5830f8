// LocalStorage: expiration-ordered conflict rules for plain values and subkeys, lazy and explicit
// purging, size limits with distinct errors, and eviction when the node is full. Byte counts are
// hand-computed with hand_counted() limits: a plain record is 64 + value; a dictionary is 64 +
// per subkey 32 + subkey + value.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "dht/storage/local_storage.h"
#include "tests/dht/dht_test_util.h"

namespace hive::dht {
namespace {

constexpr DhtTime kStart = 1'700'000'000'000;  // ms since the epoch

using testing::bytes;

DhtId key(uint8_t n) {
  std::array<uint8_t, kIdBytes> id{};
  id[kIdBytes - 1] = n;
  return DhtId(id);
}

// "stored", "not_newer", "already_expired", or the error's text.
// The sizes below are counted by hand with 64 bytes per record and 32 per subkey beyond the
// payload; the real defaults are larger (DefaultLimitsAreTheDocumentedOnes).
StorageLimits hand_counted(StorageLimits limits = {}) {
  limits.record_overhead_bytes = 64;
  limits.subkey_overhead_bytes = 32;
  return limits;
}

std::string outcome(const net::Result<StoreOutcome>& result) {
  if (!result.is_ok()) return result.status().to_string();
  return std::string(store_outcome_name(result.value()));
}

TEST(LocalStorage, StoredPlainValueIsReturnedWithItsExpiration) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("alpha"), kStart + 1000)), "stored");
  const auto record = storage.get(key(1));
  ASSERT_TRUE(record.has_value());
  ASSERT_FALSE(record->is_dictionary());
  EXPECT_EQ(record->plain(), bytes("alpha"));
  EXPECT_EQ(record->expiration, kStart + 1000);
}

TEST(LocalStorage, GetOfAbsentKeyReturnsNothing) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("alpha"), kStart + 1000)), "stored");
  EXPECT_FALSE(storage.get(key(2)).has_value());
}

TEST(LocalStorage, LaterExpirationReplacesPlainValue) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("old"), kStart + 1000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("new"), kStart + 2000)), "stored");
  const auto record = storage.get(key(1));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->plain(), bytes("new"));
  EXPECT_EQ(record->expiration, kStart + 2000);
  EXPECT_EQ(storage.stats().records, 1u);
  EXPECT_EQ(storage.stats().bytes_used, 64u + 3u);
}

TEST(LocalStorage, EqualExpirationKeepsHeldPlainValue) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("old"), kStart + 1000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("new"), kStart + 1000)), "not_newer");
  EXPECT_EQ(storage.get(key(1)), (Record{bytes("old"), kStart + 1000}));
}

TEST(LocalStorage, EarlierExpirationKeepsHeldPlainValue) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("old"), kStart + 2000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("new"), kStart + 1000)), "not_newer");
  EXPECT_EQ(storage.get(key(1)), (Record{bytes("old"), kStart + 2000}));
}

TEST(LocalStorage, StoreThatExpiresNowOrEarlierIsRejected) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("v"), kStart)), "already_expired");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("v"), kStart - 1)), "already_expired");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("v"), kStart, bytes("a"))), "already_expired");
  EXPECT_FALSE(storage.get(key(1)).has_value());
  EXPECT_EQ(storage.stats().records, 0u);
  EXPECT_EQ(storage.stats().bytes_used, 0u);
}

TEST(LocalStorage, GetAtOrAfterExpirationReturnsNothing) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("v"), kStart + 1000)), "stored");
  clock.advance(999);
  EXPECT_TRUE(storage.get(key(1)).has_value());
  clock.advance(1);  // now == expiration
  EXPECT_FALSE(storage.get(key(1)).has_value());
  EXPECT_EQ(storage.stats().records, 0u);  // get purged it
  EXPECT_EQ(storage.stats().bytes_used, 0u);
}

TEST(LocalStorage, SubkeysExpireIndividually) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 1000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 3000, bytes("b"))), "stored");
  EXPECT_EQ(storage.get(key(1))->dictionary().size(), 2u);

  clock.advance(2000);  // past a, before b
  const auto record = storage.get(key(1));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dictionary(), (Dictionary{{bytes("b"), {bytes("2"), kStart + 3000}}}));
  EXPECT_EQ(record->expiration, kStart + 3000);
  EXPECT_EQ(storage.stats().subkeys, 1u);
  EXPECT_EQ(storage.stats().bytes_used, 64u + 32u + 1u + 1u);

  clock.advance(1000);  // now == b's expiration
  EXPECT_FALSE(storage.get(key(1)).has_value());
  EXPECT_EQ(storage.stats().records, 0u);
  EXPECT_EQ(storage.stats().subkeys, 0u);
  EXPECT_EQ(storage.stats().bytes_used, 0u);
}

TEST(LocalStorage, DictionaryExpirationIsItsLatestSubkeys) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 3000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 1000, bytes("b"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("3"), kStart + 2000, bytes("c"))), "stored");
  EXPECT_EQ(storage.get(key(1))->expiration, kStart + 3000);
}

TEST(LocalStorage, SubkeyStoreWinsOnlyWithLaterExpirationThanThatSubkey) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 2000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 5000, bytes("b"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("x"), kStart + 2000, bytes("a"))), "not_newer");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("y"), kStart + 1500, bytes("a"))), "not_newer");
  // Later than a's entry, though earlier than the dictionary's expiration: wins.
  EXPECT_EQ(outcome(storage.store(key(1), bytes("zzz"), kStart + 3000, bytes("a"))), "stored");
  // A new subkey wins whatever the others' expirations.
  EXPECT_EQ(outcome(storage.store(key(1), bytes("3"), kStart + 1000, bytes("c"))), "stored");

  const auto record = storage.get(key(1));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dictionary(), (Dictionary{{bytes("a"), {bytes("zzz"), kStart + 3000}},
                                              {bytes("b"), {bytes("2"), kStart + 5000}},
                                              {bytes("c"), {bytes("3"), kStart + 1000}}}));
  EXPECT_EQ(record->expiration, kStart + 5000);
  EXPECT_EQ(storage.stats().subkeys, 3u);
  EXPECT_EQ(storage.stats().bytes_used, 64u + (32u + 1u + 3u) + (32u + 1u + 1u) + (32u + 1u + 1u));
}

TEST(LocalStorage, SubkeyReplacesPlainValueOnlyWithLaterExpiration) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p"), kStart + 2000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 2000, bytes("a"))), "not_newer");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 1000, bytes("a"))), "not_newer");
  EXPECT_EQ(storage.get(key(1)), (Record{bytes("p"), kStart + 2000}));

  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 2500, bytes("a"))), "stored");
  const auto record = storage.get(key(1));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dictionary(), (Dictionary{{bytes("a"), {bytes("1"), kStart + 2500}}}));
  EXPECT_EQ(record->expiration, kStart + 2500);
  EXPECT_EQ(storage.stats().records, 1u);
  EXPECT_EQ(storage.stats().subkeys, 1u);
  EXPECT_EQ(storage.stats().bytes_used, 64u + 32u + 1u + 1u);
}

TEST(LocalStorage, PlainValueReplacesDictionaryOnlyWhenLaterThanItsLatestSubkey) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 1000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 3000, bytes("b"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p"), kStart + 3000)), "not_newer");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p"), kStart + 2000)), "not_newer");  // > a only
  EXPECT_EQ(storage.get(key(1))->dictionary().size(), 2u);

  EXPECT_EQ(outcome(storage.store(key(1), bytes("p"), kStart + 3001)), "stored");
  EXPECT_EQ(storage.get(key(1)), (Record{bytes("p"), kStart + 3001}));
  EXPECT_EQ(storage.stats().records, 1u);
  EXPECT_EQ(storage.stats().subkeys, 0u);
  EXPECT_EQ(storage.stats().bytes_used, 64u + 1u);
}

TEST(LocalStorage, PurgeExpiredCountsRecordsAndSubkeys) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p1"), kStart + 1000)), "stored");  // 66
  EXPECT_EQ(outcome(storage.store(key(2), bytes("p2"), kStart + 5000)), "stored");  // 66
  EXPECT_EQ(outcome(storage.store(key(3), bytes("1"), kStart + 1000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(3), bytes("2"), kStart + 1000, bytes("b"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(4), bytes("1"), kStart + 1000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(4), bytes("2"), kStart + 5000, bytes("b"))), "stored");
  EXPECT_EQ(storage.stats().records, 4u);
  EXPECT_EQ(storage.stats().subkeys, 4u);
  EXPECT_EQ(storage.stats().bytes_used, 66u + 66u + 132u + 132u);

  clock.advance(1000);
  // key 1 and key 3 (with its 2 subkeys) go whole; key 4 loses subkey a.
  EXPECT_EQ(storage.purge_expired(), (PurgeCounts{.records = 2, .subkeys = 3}));
  EXPECT_EQ(storage.stats().records, 2u);
  EXPECT_EQ(storage.stats().subkeys, 1u);
  EXPECT_EQ(storage.stats().bytes_used, 66u + 98u);
  EXPECT_EQ(storage.purge_expired(), (PurgeCounts{.records = 0, .subkeys = 0}));
}

TEST(LocalStorage, OversizedValueIsRefusedAndNothingChanges) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_value_bytes = 8}));
  EXPECT_EQ(outcome(storage.store(key(1), bytes("held"), kStart + 1000)), "stored");

  const auto plain = storage.store(key(1), bytes("123456789"), kStart + 2000);
  ASSERT_FALSE(plain.is_ok());
  EXPECT_EQ(plain.status().code(), net::StatusCode::kTooLarge);
  EXPECT_NE(plain.status().message().find("value of 9 bytes exceeds max_value_bytes 8"),
            std::string::npos)
      << plain.status().message();
  const auto subkey = storage.store(key(1), bytes("123456789"), kStart + 2000, bytes("a"));
  ASSERT_FALSE(subkey.is_ok());
  EXPECT_EQ(subkey.status().code(), net::StatusCode::kTooLarge);

  EXPECT_EQ(storage.get(key(1)), (Record{bytes("held"), kStart + 1000}));
  EXPECT_EQ(storage.stats().bytes_used, 64u + 4u);
  EXPECT_EQ(outcome(storage.store(key(1), bytes("12345678"), kStart + 2000)), "stored");
}

TEST(LocalStorage, OversizedSubkeyIsRefusedAndNothingChanges) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_subkey_bytes = 4}));
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 1000, bytes("a"))), "stored");

  const auto result = storage.store(key(1), bytes("2"), kStart + 1000, bytes("abcde"));
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), net::StatusCode::kTooLarge);
  EXPECT_NE(result.status().message().find("subkey of 5 bytes exceeds max_subkey_bytes 4"),
            std::string::npos)
      << result.status().message();

  EXPECT_EQ(storage.get(key(1))->dictionary().size(), 1u);
  EXPECT_EQ(storage.stats().bytes_used, 64u + 32u + 1u + 1u);
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 1000, bytes("abcd"))), "stored");
}

TEST(LocalStorage, SubkeyBeyondMaxSubkeysPerKeyIsRefusedAndNothingChanges) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_subkeys_per_key = 3}));
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 1000, bytes("a"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 5000, bytes("b"))), "stored");
  EXPECT_EQ(outcome(storage.store(key(1), bytes("3"), kStart + 5000, bytes("c"))), "stored");

  const auto result = storage.store(key(1), bytes("4"), kStart + 5000, bytes("d"));
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), net::StatusCode::kOverloaded);
  EXPECT_NE(result.status().message().find("max_subkeys_per_key 3"), std::string::npos)
      << result.status().message();
  EXPECT_EQ(storage.get(key(1))->dictionary(),
            (Dictionary{{bytes("a"), {bytes("1"), kStart + 1000}},
                        {bytes("b"), {bytes("2"), kStart + 5000}},
                        {bytes("c"), {bytes("3"), kStart + 5000}}}));
  EXPECT_EQ(storage.stats().subkeys, 3u);

  // Updating a held subkey is not a new one.
  EXPECT_EQ(outcome(storage.store(key(1), bytes("5"), kStart + 6000, bytes("b"))), "stored");
  // Once a expires, d fits.
  clock.advance(1000);
  EXPECT_EQ(outcome(storage.store(key(1), bytes("4"), kStart + 5000, bytes("d"))), "stored");
  EXPECT_EQ(storage.get(key(1))->dictionary(),
            (Dictionary{{bytes("b"), {bytes("5"), kStart + 6000}},
                        {bytes("c"), {bytes("3"), kStart + 5000}},
                        {bytes("d"), {bytes("4"), kStart + 5000}}}));
}

TEST(LocalStorage, FullNodeEvictsRecordsThatExpireSoonest) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_total_bytes = 200}));  // three 66-byte records
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p1"), kStart + 3000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(2), bytes("p2"), kStart + 1000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(3), bytes("p3"), kStart + 2000)), "stored");
  EXPECT_EQ(storage.stats().bytes_used, 198u);

  // 198 + 66 > 200: frees 64+ bytes by evicting the soonest, key 2.
  EXPECT_EQ(outcome(storage.store(key(4), bytes("p4"), kStart + 4000)), "stored");
  EXPECT_FALSE(storage.get(key(2)).has_value());
  EXPECT_TRUE(storage.get(key(1)).has_value());
  EXPECT_TRUE(storage.get(key(3)).has_value());
  EXPECT_EQ(storage.stats().evicted_records, 1u);
  EXPECT_EQ(storage.stats().bytes_used, 198u);

  // 134 bytes: 198 + 134 - 200 = 132 to free, so key 3 (+2000) and then key 1 (+3000) go.
  EXPECT_EQ(outcome(storage.store(key(5), Bytes(70, std::byte{7}), kStart + 5000)), "stored");
  EXPECT_FALSE(storage.get(key(3)).has_value());
  EXPECT_FALSE(storage.get(key(1)).has_value());
  EXPECT_TRUE(storage.get(key(4)).has_value());
  EXPECT_TRUE(storage.get(key(5)).has_value());
  EXPECT_EQ(storage.stats().evicted_records, 3u);
  EXPECT_EQ(storage.stats().records, 2u);
  EXPECT_EQ(storage.stats().bytes_used, 66u + 134u);
}

TEST(LocalStorage, FullNodeRefusesRecordThatExpiresNoLaterThanThoseItWouldEvict) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_total_bytes = 200}));
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p1"), kStart + 1000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(2), bytes("p2"), kStart + 2000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(3), bytes("p3"), kStart + 3000)), "stored");

  const auto equal = storage.store(key(4), bytes("p4"), kStart + 1000);
  ASSERT_FALSE(equal.is_ok());
  EXPECT_EQ(equal.status().code(), net::StatusCode::kOverloaded);
  EXPECT_NE(equal.status().message().find("max_total_bytes 200"), std::string::npos)
      << equal.status().message();
  // Would evict key 1 (+1000, earlier) but then key 2 (+2000, later): refused, key 1 kept.
  const auto partial = storage.store(key(4), Bytes(70, std::byte{7}), kStart + 1500);
  ASSERT_FALSE(partial.is_ok());
  EXPECT_EQ(partial.status().code(), net::StatusCode::kOverloaded);
  // A store that loses anyway evicts nothing.
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p1"), kStart + 500)), "not_newer");

  EXPECT_EQ(storage.get(key(1)), (Record{bytes("p1"), kStart + 1000}));
  EXPECT_TRUE(storage.get(key(2)).has_value());
  EXPECT_TRUE(storage.get(key(3)).has_value());
  EXPECT_FALSE(storage.get(key(4)).has_value());
  EXPECT_EQ(storage.stats().records, 3u);
  EXPECT_EQ(storage.stats().bytes_used, 198u);
  EXPECT_EQ(storage.stats().evicted_records, 0u);
}

TEST(LocalStorage, FullNodePurgesExpiredRecordsBeforeEvicting) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_total_bytes = 200}));
  EXPECT_EQ(outcome(storage.store(key(1), bytes("p1"), kStart + 1000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(2), bytes("p2"), kStart + 2000)), "stored");
  EXPECT_EQ(outcome(storage.store(key(3), bytes("p3"), kStart + 3000)), "stored");
  clock.advance(1000);  // key 1 expires
  // Expires before keys 2 and 3, so it could evict neither: it takes key 1's room.
  EXPECT_EQ(outcome(storage.store(key(4), bytes("p4"), kStart + 1500)), "stored");
  EXPECT_TRUE(storage.get(key(2)).has_value());
  EXPECT_TRUE(storage.get(key(3)).has_value());
  EXPECT_TRUE(storage.get(key(4)).has_value());
  EXPECT_EQ(storage.stats().evicted_records, 0u);
  EXPECT_EQ(storage.stats().bytes_used, 198u);
}

TEST(LocalStorage, GrowingDictionaryEvictsOtherRecordsNeverItself) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_total_bytes = 180}));
  EXPECT_EQ(outcome(storage.store(key(1), bytes("1"), kStart + 500, bytes("a"))), "stored");  // 98
  EXPECT_EQ(outcome(storage.store(key(2), bytes("p2"), kStart + 2000)), "stored");           // 66
  // key 1 grows to 132: 198 > 180. key 1 expires soonest but is the one being stored to.
  EXPECT_EQ(outcome(storage.store(key(1), bytes("2"), kStart + 3000, bytes("b"))), "stored");
  EXPECT_FALSE(storage.get(key(2)).has_value());
  EXPECT_EQ(storage.get(key(1))->dictionary().size(), 2u);
  EXPECT_EQ(storage.stats().bytes_used, 132u);
  EXPECT_EQ(storage.stats().evicted_records, 1u);
}

TEST(LocalStorage, RecordLargerThanTheWholeNodeIsRefused) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted({.max_total_bytes = 100}));
  const auto result = storage.store(key(1), Bytes(37, std::byte{1}), kStart + 1000);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), net::StatusCode::kTooLarge);
  EXPECT_NE(result.status().message().find("record of 101 bytes"), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("max_total_bytes 100"), std::string::npos);
  EXPECT_EQ(storage.stats().records, 0u);
  EXPECT_EQ(outcome(storage.store(key(1), Bytes(36, std::byte{1}), kStart + 1000)), "stored");
  EXPECT_EQ(storage.stats().bytes_used, 100u);
}

TEST(LocalStorage, DictionaryWith400SubkeysIsReturnedIntact) {
  ManualClock clock(kStart);
  LocalStorage storage(clock, hand_counted());
  Dictionary expected;
  for (int i = 0; i < 400; ++i) {
    const std::string subkey = "s" + std::to_string(1000 + i);
    const std::string value = "v" + std::to_string(i);
    const DhtTime expiration = kStart + 1000 + i;
    ASSERT_EQ(outcome(storage.store(key(1), bytes(value), expiration, bytes(subkey))), "stored");
    expected.emplace(bytes(subkey), TimedValue{bytes(value), expiration});
  }
  const auto record = storage.get(key(1));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dictionary(), expected);
  EXPECT_EQ(record->expiration, kStart + 1399);
  EXPECT_EQ(storage.stats().subkeys, 400u);
}

TEST(LocalStorage, DefaultLimitsAreTheDocumentedOnes) {
  const StorageLimits limits;
  EXPECT_EQ(limits.max_value_bytes, 64u * 1024u);
  EXPECT_EQ(limits.max_subkey_bytes, 256u);
  EXPECT_EQ(limits.max_subkeys_per_key, 4096u);
  EXPECT_EQ(limits.max_total_bytes, 256u * 1024u * 1024u);
  EXPECT_EQ(limits.record_overhead_bytes, 432u);
  EXPECT_EQ(limits.subkey_overhead_bytes, 216u);
}

}  // namespace
}  // namespace hive::dht
