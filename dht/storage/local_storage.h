// A node's local record store (hivemind's DHTLocalStorage): key -> plain value or dictionary of
// subkeys, each with an absolute expiration. Conflicts resolve by expiration: a store wins only
// with a strictly later expiration than what it would replace, so every node converges on the
// same record whatever order the stores arrive in. Owned keys come first: once a store proved
// the key's owner, only that owner's stores change the record (see store()).
//
// Single-threaded: it lives on the I/O thread with the rest of the DHT state. Time comes from the
// Clock given at construction. Expired entries are dropped lazily (by store() and get()) and by
// purge_expired(). The same class, with smaller limits, serves as the cache of values found during
// lookups.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "dht/core/dht_id.h"
#include "dht/core/dht_time.h"
#include "dht/storage/record.h"
#include "net/core/status.h"

namespace hive::dht {

// Accounted size of a record (what max_total_bytes bounds): the payload bytes (values, subkeys,
// signatures, the owner's key) plus a fixed overhead per record and per subkey for what the
// payload does not show: the key id, expirations, map and index nodes, allocator headers.
struct StorageLimits {
  size_t max_value_bytes = 64 * 1024;             // one plain value or one subkey's value
  size_t max_subkey_bytes = 256;                  // one subkey
  size_t max_subkeys_per_key = 4096;              // one dictionary
  size_t max_total_bytes = 256 * 1024 * 1024;     // all records together, accounted as above
  // The heap bytes a small record and a subkey take beyond their payload, as bench/dht_bench's
  // overhead scenario measures them (glibc, x86-64: 432 and 216), so that max_total_bytes bounds
  // the memory a node really spends and a flood of empty values is not free.
  size_t record_overhead_bytes = 432;
  size_t subkey_overhead_bytes = 216;
};

// What a store proved about ownership, as the node checked it (dht/ownership/owner.h):
// LocalStorage verifies no signature itself, it keeps them and enforces the key's owner.
struct StoreProof {
  std::optional<net::Signature> signature;  // the owner's, over the stored value
  std::optional<net::PublicKey> key_owner;  // the owner that the store's key name names
};

// Why a well-formed store did or did not take effect. Refusals for size limits are Status errors.
enum class StoreOutcome {
  kStored,
  kAlreadyExpired,  // expiration <= now
  kNotNewer,        // what is held expires no earlier than the new value
};
std::string_view store_outcome_name(StoreOutcome outcome);

struct PurgeCounts {
  size_t records = 0;  // whole records removed (plain, or dictionaries whose last subkey expired)
  size_t subkeys = 0;  // subkeys removed, including those of removed dictionaries

  bool operator==(const PurgeCounts&) const = default;
};

struct StorageStats {
  size_t records = 0;          // plain and dictionary records
  size_t subkeys = 0;          // subkeys over all dictionaries
  size_t bytes_used = 0;       // accounted bytes (see StorageLimits)
  size_t evicted_records = 0;  // unexpired records evicted to make room, since construction
};

class LocalStorage {
 public:
  explicit LocalStorage(const Clock& clock, StorageLimits limits = {});

  LocalStorage(const LocalStorage&) = delete;
  LocalStorage& operator=(const LocalStorage&) = delete;

  // Stores a plain value under key, or (with subkey) one subkey of key's dictionary:
  // - plain: wins only over a held record (plain or dictionary) that expires earlier;
  // - subkey into a plain value: wins only if later than the plain value, which it then replaces
  //   by a dictionary holding just this subkey;
  // - subkey into a dictionary: wins only if later than that subkey's entry (a new subkey always).
  // Ownership, before expirations: a key held as owned takes only stores whose proof names that
  // same key_owner; a store with a key_owner replaces an unowned record whatever the expirations
  // (nobody can store under an owned key without naming it, so that record is a forgery).
  // The proof's signature is kept with the value; its key_owner becomes the record's owner.
  // Errors: kTooLarge (max_value_bytes, max_subkey_bytes, or a record above max_total_bytes),
  // kOverloaded (max_subkeys_per_key; max_total_bytes when the records that would have to be
  // evicted expire no earlier than the new one), kUnauthenticated (the key is owned by another
  // or the proof names no owner). A refused store changes nothing.
  net::Result<StoreOutcome> store(const DhtId& key, Bytes value, DhtTime expiration,
                                  std::optional<Bytes> subkey = std::nullopt,
                                  StoreProof proof = {});

  // The unexpired record under key, or nothing. A dictionary comes with only its unexpired
  // subkeys. Purges expired entries first (hence not const).
  std::optional<Record> get(const DhtId& key);

  // The keys of every unexpired record, in id order. Purges expired entries first.
  std::vector<DhtId> keys();

  // Drops every expired plain record and subkey, and dictionaries left empty.
  PurgeCounts purge_expired();

  // As of the last purge (store(), get() and purge_expired() all purge).
  StorageStats stats() const { return stats_; }
  const StorageLimits& limits() const { return limits_; }

 private:
  struct HeldRecord {
    Record record;
    // No later than the earliest expiration of any entry (plain value or subkey): purge_expired()
    // visits the record once this is due. Only lowered on update, made exact by the visit.
    DhtTime earliest_expiration = 0;
    size_t bytes = 0;
  };
  using Entry = std::map<DhtId, HeldRecord>::iterator;

  // Makes room for `key` to hold `new_bytes` (it holds `old_bytes` now) by evicting the records
  // other than key that expire soonest, all of them earlier than `expiration`; else an error.
  net::Status make_room(const DhtId& key, size_t new_bytes, size_t old_bytes, DhtTime expiration);
  // Inserts or replaces key's whole record, keeping the indexes and stats in step.
  void put(const DhtId& key, Record record, DhtTime earliest_expiration, size_t bytes);
  void erase(Entry entry);
  void unindex(Entry entry);
  void index(Entry entry);
  // Drops expired subkeys of entry's dictionary (or the whole record): counts into `counts`.
  void purge_record(Entry entry, DhtTime now, PurgeCounts& counts);

  const Clock& clock_;
  StorageLimits limits_;
  std::map<DhtId, HeldRecord> records_;
  std::set<std::pair<DhtTime, DhtId>> by_earliest_expiration_;  // purge order
  std::set<std::pair<DhtTime, DhtId>> by_expiration_;           // eviction order: soonest first
  StorageStats stats_;
};

}  // namespace hive::dht
