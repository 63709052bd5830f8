#include "dht/storage/local_storage.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "dht/ownership/owner_marker.h"

namespace hive::dht {

using net::Status;
using net::StatusCode;
using net::str_cat;

namespace {

size_t signature_bytes(const std::optional<net::Signature>& signature) {
  return signature ? net::kSignatureBytes : 0;
}

// A record's bytes other than its value or subkeys.
size_t record_base_bytes(const StorageLimits& limits, const std::optional<net::PublicKey>& owner) {
  return limits.record_overhead_bytes + (owner ? net::kPublicKeyBytes : 0);
}

size_t subkey_entry_bytes(const StorageLimits& limits, const Bytes& subkey,
                          const TimedValue& entry) {
  return limits.subkey_overhead_bytes + subkey.size() + entry.value.size() +
         signature_bytes(entry.signature);
}

}  // namespace

std::string_view store_outcome_name(StoreOutcome outcome) {
  switch (outcome) {
    case StoreOutcome::kStored: return "stored";
    case StoreOutcome::kAlreadyExpired: return "already_expired";
    case StoreOutcome::kNotNewer: return "not_newer";
  }
  return "unknown";
}

LocalStorage::LocalStorage(const Clock& clock, StorageLimits limits)
    : clock_(clock), limits_(limits) {}

net::Result<StoreOutcome> LocalStorage::store(const DhtId& key, Bytes value, DhtTime expiration,
                                              std::optional<Bytes> subkey, StoreProof proof) {
  if (value.size() > limits_.max_value_bytes) {
    return Status(StatusCode::kTooLarge,
                  str_cat("store: value of ", value.size(), " bytes exceeds max_value_bytes ",
                          limits_.max_value_bytes));
  }
  if (subkey && subkey->size() > limits_.max_subkey_bytes) {
    return Status(StatusCode::kTooLarge,
                  str_cat("store: subkey of ", subkey->size(),
                          " bytes exceeds max_subkey_bytes ", limits_.max_subkey_bytes));
  }
  if (expiration <= clock_.now()) return StoreOutcome::kAlreadyExpired;
  purge_expired();  // an expired record neither blocks the store nor takes up room

  const auto entry = records_.find(key);
  const bool held = entry != records_.end();
  const size_t old_bytes = held ? entry->second.bytes : 0;
  const std::optional<net::PublicKey> held_owner =
      held ? entry->second.record.owner : std::nullopt;
  if (held_owner && proof.key_owner != held_owner) {
    return Status(StatusCode::kUnauthenticated,
                  str_cat("store: key ", key.to_hex(), " is owned by ", public_key_hex(*held_owner),
                          ", the store names ",
                          proof.key_owner ? public_key_hex(*proof.key_owner) : "no owner"));
  }
  // Expirations decide only between records of the same standing: an unowned record under a key
  // that the store proves owned is a forgery, and gives way whatever its expiration.
  const bool held_competes = held && !(proof.key_owner && !held_owner);
  const auto too_many_subkeys = [&] {
    return Status(StatusCode::kOverloaded,
                  str_cat("store: key ", key.to_hex(), " already holds max_subkeys_per_key ",
                          limits_.max_subkeys_per_key, " subkeys"));
  };

  if (!subkey) {
    if (held_competes && expiration <= entry->second.record.expiration) {
      return StoreOutcome::kNotNewer;
    }
    const size_t new_bytes =
        record_base_bytes(limits_, proof.key_owner) + value.size() +
        signature_bytes(proof.signature);
    if (Status room = make_room(key, new_bytes, old_bytes, expiration); !room.is_ok()) return room;
    put(key, Record{std::move(value), expiration, proof.signature, proof.key_owner}, expiration,
        new_bytes);
    return StoreOutcome::kStored;
  }

  TimedValue timed{std::move(value), expiration, proof.signature};
  if (!held_competes || !entry->second.record.is_dictionary()) {
    // Nothing held (or a forgery), or a plain value that the new dictionary replaces if it
    // expires later.
    if (held_competes && expiration <= entry->second.record.expiration) {
      return StoreOutcome::kNotNewer;
    }
    if (limits_.max_subkeys_per_key == 0) return too_many_subkeys();
    const size_t new_bytes =
        record_base_bytes(limits_, proof.key_owner) + subkey_entry_bytes(limits_, *subkey, timed);
    if (Status room = make_room(key, new_bytes, old_bytes, expiration); !room.is_ok()) return room;
    Dictionary dictionary;
    dictionary.emplace(std::move(*subkey), std::move(timed));
    put(key, Record{std::move(dictionary), expiration, std::nullopt, proof.key_owner}, expiration,
        new_bytes);
    return StoreOutcome::kStored;
  }

  // A subkey into a held dictionary: decided by that subkey's entry alone.
  HeldRecord& held_record = entry->second;
  auto& dictionary = std::get<Dictionary>(held_record.record.value);
  const auto found = dictionary.find(*subkey);
  size_t new_bytes = 0;
  if (found != dictionary.end()) {
    if (expiration <= found->second.expiration) return StoreOutcome::kNotNewer;
    new_bytes = old_bytes - subkey_entry_bytes(limits_, *subkey, found->second) +
                subkey_entry_bytes(limits_, *subkey, timed);
  } else {
    if (dictionary.size() >= limits_.max_subkeys_per_key) return too_many_subkeys();
    new_bytes = old_bytes + subkey_entry_bytes(limits_, *subkey, timed);
  }
  // make_room never evicts `key` itself, so entry, dictionary and found stay valid.
  if (Status room = make_room(key, new_bytes, old_bytes, expiration); !room.is_ok()) return room;

  unindex(entry);
  if (found != dictionary.end()) {
    found->second = std::move(timed);
  } else {
    dictionary.emplace(std::move(*subkey), std::move(timed));
    ++stats_.subkeys;
  }
  held_record.record.expiration = std::max(held_record.record.expiration, expiration);
  held_record.earliest_expiration = std::min(held_record.earliest_expiration, expiration);
  stats_.bytes_used = stats_.bytes_used - old_bytes + new_bytes;
  held_record.bytes = new_bytes;
  index(entry);
  return StoreOutcome::kStored;
}

std::optional<Record> LocalStorage::get(const DhtId& key) {
  purge_expired();
  const auto entry = records_.find(key);
  if (entry == records_.end()) return std::nullopt;
  return entry->second.record;
}

std::vector<DhtId> LocalStorage::keys() {
  purge_expired();
  std::vector<DhtId> held;
  held.reserve(records_.size());
  for (const auto& [key, record] : records_) held.push_back(key);
  return held;
}

PurgeCounts LocalStorage::purge_expired() {
  PurgeCounts counts;
  const DhtTime now = clock_.now();
  while (!by_earliest_expiration_.empty() && by_earliest_expiration_.begin()->first <= now) {
    const auto entry = records_.find(by_earliest_expiration_.begin()->second);
    HIVE_NET_CHECK(entry != records_.end(), "purge index names a key that is not held");
    purge_record(entry, now, counts);
  }
  return counts;
}

void LocalStorage::purge_record(Entry entry, DhtTime now, PurgeCounts& counts) {
  HeldRecord& held = entry->second;
  if (held.record.expiration <= now) {  // a dictionary's expiration is its latest subkey's
    ++counts.records;
    if (held.record.is_dictionary()) counts.subkeys += held.record.dictionary().size();
    erase(entry);
    return;
  }
  HIVE_NET_CHECK(held.record.is_dictionary(),
                 "an unexpired plain record is due for purging: its index is stale");
  unindex(entry);
  auto& dictionary = std::get<Dictionary>(held.record.value);
  DhtTime earliest = std::numeric_limits<DhtTime>::max();
  for (auto subkey = dictionary.begin(); subkey != dictionary.end();) {
    if (subkey->second.expiration <= now) {
      const size_t bytes = subkey_entry_bytes(limits_, subkey->first, subkey->second);
      held.bytes -= bytes;
      stats_.bytes_used -= bytes;
      --stats_.subkeys;
      ++counts.subkeys;
      subkey = dictionary.erase(subkey);
    } else {
      earliest = std::min(earliest, subkey->second.expiration);
      ++subkey;
    }
  }
  held.earliest_expiration = earliest;
  index(entry);
}

Status LocalStorage::make_room(const DhtId& key, size_t new_bytes, size_t old_bytes,
                               DhtTime expiration) {
  if (new_bytes > limits_.max_total_bytes) {
    return Status(StatusCode::kTooLarge,
                  str_cat("store: record of ", new_bytes, " bytes under key ", key.to_hex(),
                          " exceeds max_total_bytes ", limits_.max_total_bytes));
  }
  const size_t others_bytes = stats_.bytes_used - old_bytes;
  if (others_bytes + new_bytes <= limits_.max_total_bytes) return Status::ok();

  // Plan the evictions first, so that a refusal changes nothing.
  const size_t to_free = others_bytes + new_bytes - limits_.max_total_bytes;
  size_t freed = 0;
  std::vector<Entry> victims;
  for (const auto& [victim_expiration, victim_key] : by_expiration_) {
    if (freed >= to_free || victim_expiration >= expiration) break;
    if (victim_key == key) continue;
    const auto victim = records_.find(victim_key);
    freed += victim->second.bytes;
    victims.push_back(victim);
  }
  if (freed < to_free) {
    return Status(StatusCode::kOverloaded,
                  str_cat("store: node storage is full (max_total_bytes ",
                          limits_.max_total_bytes, ", ", stats_.bytes_used,
                          " bytes used): a record of ", new_bytes, " bytes expiring at ",
                          expiration, " ms would evict records that expire no sooner"));
  }
  for (const Entry victim : victims) {
    erase(victim);
    ++stats_.evicted_records;
  }
  return Status::ok();
}

void LocalStorage::put(const DhtId& key, Record record, DhtTime earliest_expiration,
                       size_t bytes) {
  if (const auto held = records_.find(key); held != records_.end()) erase(held);
  const size_t subkeys = record.is_dictionary() ? record.dictionary().size() : 0;
  const auto entry =
      records_.emplace(key, HeldRecord{std::move(record), earliest_expiration, bytes}).first;
  ++stats_.records;
  stats_.subkeys += subkeys;
  stats_.bytes_used += bytes;
  index(entry);
}

void LocalStorage::erase(Entry entry) {
  unindex(entry);
  const HeldRecord& held = entry->second;
  --stats_.records;
  if (held.record.is_dictionary()) stats_.subkeys -= held.record.dictionary().size();
  stats_.bytes_used -= held.bytes;
  records_.erase(entry);
}

void LocalStorage::index(Entry entry) {
  by_earliest_expiration_.emplace(entry->second.earliest_expiration, entry->first);
  by_expiration_.emplace(entry->second.record.expiration, entry->first);
}

void LocalStorage::unindex(Entry entry) {
  by_earliest_expiration_.erase({entry->second.earliest_expiration, entry->first});
  by_expiration_.erase({entry->second.record.expiration, entry->first});
}

}  // namespace hive::dht
