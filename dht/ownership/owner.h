// Owned records: a key whose name, or a subkey that, names an owner (an owner marker, see
// dht/ownership/owner_marker.h) takes only values that owner signed, over (key, subkey, value,
// expiration). Storing nodes check each store item (validate_store_item) and remember the
// owners of keys (LocalStorage); readers check what they find (drop_unverified), since a
// responder may lie.
#pragma once

#include <optional>

#include "dht/core/dht_id.h"
#include "dht/core/dht_time.h"
#include "dht/ownership/owner_marker.h"
#include "dht/protocol/messages.h"
#include "dht/storage/local_storage.h"
#include "dht/storage/record.h"
#include "net/core/status.h"
#include "net/identity/identity.h"

namespace hive::dht {

// Signed bytes: this tag, the key id (20 bytes), the subkey's length (u32 little-endian;
// 0xFFFFFFFF for no subkey, which thus differs from an empty one) and bytes, the value's length
// (u32 LE) and bytes, the expiration (i64 LE). The tag keeps these signatures from being valid
// for any other message the same identity signs.
inline constexpr std::string_view kRecordSignatureDomain = "hive.dht.record.v1";

net::Signature sign_record(const net::Identity& owner, const DhtId& key,
                           const std::optional<Bytes>& subkey, const Bytes& value,
                           DhtTime expiration);
bool verify_record(const net::PublicKey& owner, const DhtId& key,
                   const std::optional<Bytes>& subkey, const Bytes& value, DhtTime expiration,
                   const net::Signature& signature);

// The storing node's check of one store item, and what it proves (for LocalStorage::store).
// The owner is the one that the item's key name and/or its subkey names (both: the same one).
// kProtocolError: a key name that does not hash to the key (DhtId::of_key), a malformed owner
// marker, two different owners, or a signature where no owner is named. kUnauthenticated: an
// owner is named and the signature is missing or does not verify.
net::Result<StoreProof> validate_store_item(const StoreItem& item);

// A reader's check of a found record: drops every plain value or subkey that a storing node
// would have refused (see validate_store_item) given `key_name`, the name that the reader
// looked up under `key` (absent: the reader knows only the id, so only subkeys can name
// owners). The record's owner becomes the one that key_name names, whatever the responder
// claimed; a dictionary's expiration becomes its latest remaining subkey's. False when nothing
// is left (also when key_name does not hash to key or its marker is malformed): discard the
// record then.
[[nodiscard]] bool drop_unverified(const std::optional<Bytes>& key_name, const DhtId& key,
                                   Record& record);

}  // namespace hive::dht
