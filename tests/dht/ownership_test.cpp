// Owned records: owner markers in key names and subkeys, record signatures, the storing node's
// check of store items (tampered or unsigned items refused), LocalStorage's owned keys (nobody
// else overwrites them, their owner's stores replace forgeries), and the reader's check of
// found records. Identities come from fixed seeds.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "dht/ownership/owner.h"
#include "dht/storage/local_storage.h"
#include "tests/dht/dht_test_util.h"
#include "tests/net/net_test_util.h"

namespace hive::dht {
namespace {

constexpr DhtTime kNow = 1'700'000'000'000;  // ms since the epoch

using testing::bytes;

const net::Identity& alice() {
  static const net::Identity identity = net::testing::identity_from_seed(1);
  return identity;
}

const net::Identity& bob() {
  static const net::Identity identity = net::testing::identity_from_seed(2);
  return identity;
}

std::string marker_of(const net::Identity& owner) { return owner_marker(owner.public_key()); }

DhtId id_of(std::string_view key_name) { return DhtId::of_key(key_name); }

// `item`, signed by `signer`.
StoreItem signed_item(const net::Identity& signer, StoreItem item) {
  item.signature = sign_record(signer, item.key, item.subkey, item.value, item.expiration);
  return item;
}

// A plain value under a key whose name names `owner`, signed by `signer`.
StoreItem owned_key_item(const net::Identity& owner, const net::Identity& signer,
                         std::string_view value, DhtTime expiration) {
  const std::string name = "experts" + marker_of(owner);
  return signed_item(signer, StoreItem{id_of(name), std::nullopt, bytes(value), expiration,
                                       std::nullopt, bytes(name)});
}

// A subkey that names `owner`, under an unowned key, signed by `signer`.
StoreItem owned_subkey_item(const net::Identity& owner, const net::Identity& signer,
                            std::string_view value, DhtTime expiration) {
  return signed_item(signer, StoreItem{id_of("experts"), bytes("slot" + marker_of(owner)),
                                       bytes(value), expiration, std::nullopt});
}

// What the node does with a store item (DhtProtocol::store_local): check it, then store it.
std::string store_checked(LocalStorage& storage, StoreItem item) {
  net::Result<StoreProof> proof = validate_store_item(item);
  if (!proof.is_ok()) return proof.status().to_string();
  net::Result<StoreOutcome> outcome = storage.store(item.key, std::move(item.value),
                                                    item.expiration, std::move(item.subkey),
                                                    std::move(proof).value());
  if (!outcome.is_ok()) return outcome.status().to_string();
  return std::string(store_outcome_name(outcome.value()));
}

void expect_refused(const StoreItem& item, net::StatusCode code, std::string_view message_part) {
  net::Result<StoreProof> proof = validate_store_item(item);
  ASSERT_FALSE(proof.is_ok());
  EXPECT_EQ(proof.status().code(), code) << proof.status().to_string();
  EXPECT_NE(proof.status().message().find(message_part), std::string::npos)
      << proof.status().message();
}

// ---- Owner markers ----

TEST(OwnerMarkerTest, NamesAreParsedAsTheTableSays) {
  const std::string a = public_key_hex(alice().public_key());
  const std::string b = public_key_hex(bob().public_key());
  struct Case {
    std::string name;
    std::optional<net::PublicKey> owner;  // when parsing succeeds
    std::string error;                    // part of the message, when it fails
  };
  const std::vector<Case> cases = {
      {"experts.ffn.0", std::nullopt, ""},
      {"[owner", std::nullopt, ""},
      {"experts[owner:" + a + "].ffn", alice().public_key(), ""},
      {"[owner:" + a + "]x[owner:" + a + "]", alice().public_key(), ""},
      {"[owner:" + a + "][owner:" + b + "]", std::nullopt,
       "two owners named: " + a + " at byte 0 and " + b + " at byte 72"},
      {"x[owner:" + a.substr(0, 63) + "]", std::nullopt,
       "owner marker at byte 1: hex digit 63 is ']'"},
      {"[owner:" + std::string(1, 'A') + a.substr(1) + "]", std::nullopt,
       "owner marker at byte 0: hex digit 0 is 'A'"},
      {"[owner:abc", std::nullopt, "the name ends after 3 hex digits"},
      {"[owner:" + a, std::nullopt, "the name ends before ']'"},
      {"[owner:" + a + ")", std::nullopt, "')' after the hex digits"},
      {"[owner:\x01", std::nullopt, "hex digit 0 is byte 0x01"},
  };
  for (const Case& c : cases) {
    net::Result<std::optional<net::PublicKey>> owner = owner_named_in(bytes(c.name));
    if (c.error.empty()) {
      ASSERT_TRUE(owner.is_ok()) << c.name << ": " << owner.status().to_string();
      EXPECT_EQ(owner.value(), c.owner) << c.name;
    } else {
      ASSERT_FALSE(owner.is_ok()) << c.name;
      EXPECT_EQ(owner.status().code(), net::StatusCode::kProtocolError);
      EXPECT_NE(owner.status().message().find(c.error), std::string::npos)
          << c.name << ": " << owner.status().message();
    }
  }
}

TEST(OwnerMarkerTest, MarkerNamesItsOwner) {
  const std::string marker = marker_of(alice());
  EXPECT_EQ(marker.size(), 7u + 64u + 1u);
  EXPECT_EQ(owner_named_in(bytes(marker)).value(), alice().public_key());
}

// ---- Signatures ----

TEST(RecordSignatureTest, OwnersSignatureVerifiesForTheOwnerOnly) {
  const DhtId key = id_of("k");
  const net::Signature signature = sign_record(alice(), key, bytes("s"), bytes("v"), kNow);
  EXPECT_TRUE(verify_record(alice().public_key(), key, bytes("s"), bytes("v"), kNow, signature));
  EXPECT_FALSE(verify_record(bob().public_key(), key, bytes("s"), bytes("v"), kNow, signature));
}

TEST(RecordSignatureTest, EmptySubkeyIsSignedDifferentlyFromNoSubkey) {
  const DhtId key = id_of("k");
  const net::Signature empty_subkey = sign_record(alice(), key, Bytes{}, bytes("v"), kNow);
  EXPECT_FALSE(verify_record(alice().public_key(), key, std::nullopt, bytes("v"), kNow,
                             empty_subkey));
}

// ---- The storing node's check ----

TEST(ValidateStoreItemTest, OwnersSignedItemsProveTheirOwner) {
  const StoreItem key_item = owned_key_item(alice(), alice(), "v", kNow + 1000);
  net::Result<StoreProof> key_proof = validate_store_item(key_item);
  ASSERT_TRUE(key_proof.is_ok()) << key_proof.status().to_string();
  EXPECT_EQ(key_proof.value().key_owner, alice().public_key());
  EXPECT_EQ(key_proof.value().signature, key_item.signature);

  const StoreItem subkey_item = owned_subkey_item(alice(), alice(), "v", kNow + 1000);
  net::Result<StoreProof> subkey_proof = validate_store_item(subkey_item);
  ASSERT_TRUE(subkey_proof.is_ok()) << subkey_proof.status().to_string();
  EXPECT_EQ(subkey_proof.value().key_owner, std::nullopt);  // the key itself is nobody's
  EXPECT_EQ(subkey_proof.value().signature, subkey_item.signature);
}

TEST(ValidateStoreItemTest, UnsignedItemThatNamesNoOwnerIsAccepted) {
  net::Result<StoreProof> proof =
      validate_store_item(StoreItem{id_of("k"), bytes("s"), bytes("v"), kNow, std::nullopt});
  ASSERT_TRUE(proof.is_ok()) << proof.status().to_string();
  EXPECT_EQ(proof.value().signature, std::nullopt);
  EXPECT_EQ(proof.value().key_owner, std::nullopt);
}

TEST(ValidateStoreItemTest, TamperedKeySubkeyValueOrExpirationIsRefused) {
  struct Tampering {
    std::string_view field;
    void (*tamper)(StoreItem&);
  };
  const std::vector<Tampering> tamperings = {
      {"key",
       [](StoreItem& item) {
         // Another name of the same owner, so that only the signature can tell.
         if (item.key_name) {
           const std::string name = "other" + marker_of(alice());
           item.key_name = bytes(name);
           item.key = id_of(name);
         } else {
           item.key = id_of("other");
         }
       }},
      {"subkey",
       [](StoreItem& item) { item.subkey = bytes("slot2" + marker_of(alice())); }},
      {"value", [](StoreItem& item) { item.value.back() ^= std::byte{1}; }},
      {"expiration", [](StoreItem& item) { item.expiration += 1; }},
  };
  const std::vector<StoreItem> originals = {
      owned_key_item(alice(), alice(), "value", kNow + 1000),
      owned_subkey_item(alice(), alice(), "value", kNow + 1000)};
  for (const StoreItem& original : originals) {
    ASSERT_TRUE(validate_store_item(original).is_ok());
    for (const Tampering& tampering : tamperings) {
      SCOPED_TRACE(::testing::Message() << "tampered " << tampering.field << ", owned "
                                        << (original.key_name ? "key" : "subkey"));
      StoreItem item = original;
      tampering.tamper(item);
      expect_refused(item, net::StatusCode::kUnauthenticated,
                     "the signature is not owner " + public_key_hex(alice().public_key()));
    }
  }
}

TEST(ValidateStoreItemTest, ItemSignedByANonOwnerIsRefused) {
  expect_refused(owned_key_item(alice(), bob(), "v", kNow + 1000),
                 net::StatusCode::kUnauthenticated, "the signature is not owner");
  expect_refused(owned_subkey_item(alice(), bob(), "v", kNow + 1000),
                 net::StatusCode::kUnauthenticated, "the signature is not owner");
}

TEST(ValidateStoreItemTest, UnsignedItemThatNamesAnOwnerIsRefused) {
  StoreItem item = owned_subkey_item(alice(), alice(), "v", kNow + 1000);
  item.signature.reset();
  expect_refused(item, net::StatusCode::kUnauthenticated,
                 "is named but the subkey's value is not signed");
}

TEST(ValidateStoreItemTest, KeyNameThatDoesNotHashToTheKeyIsRefused) {
  StoreItem item = owned_key_item(alice(), alice(), "v", kNow + 1000);
  item.key = id_of("another key");
  const std::string name = "experts" + marker_of(alice());  // 7 + 72 bytes
  expect_refused(item, net::StatusCode::kProtocolError,
                 "the key name of 79 bytes hashes to " + id_of(name).to_hex() + ", not to the key");
}

TEST(ValidateStoreItemTest, SignatureWithoutAnOwnerIsRefused) {
  const StoreItem item =
      signed_item(alice(), StoreItem{id_of("k"), bytes("s"), bytes("v"), kNow, std::nullopt});
  expect_refused(item, net::StatusCode::kProtocolError, "signature without an owner");
}

TEST(ValidateStoreItemTest, KeyNameAndSubkeyNamingDifferentOwnersAreRefused) {
  StoreItem item = owned_key_item(alice(), alice(), "v", kNow + 1000);
  item.subkey = bytes(marker_of(bob()));
  item = signed_item(alice(), std::move(item));
  expect_refused(item, net::StatusCode::kProtocolError, "but the subkey names owner");
}

TEST(ValidateStoreItemTest, MalformedMarkerInTheSubkeyIsRefused) {
  StoreItem item{id_of("k"), bytes("[owner:xyz]"), bytes("v"), kNow, std::nullopt};
  expect_refused(item, net::StatusCode::kProtocolError, "subkey: owner marker at byte 0");
}

// ---- LocalStorage: owned keys and subkeys ----

TEST(OwnedStorageTest, NonOwnerCannotOverwriteAnOwnedSubkeyEvenWithALaterExpiration) {
  ManualClock clock(kNow);
  LocalStorage storage(clock);
  const StoreItem owners = owned_subkey_item(alice(), alice(), "alice's", kNow + 1000);
  EXPECT_EQ(store_checked(storage, owners), "stored");

  EXPECT_NE(store_checked(storage, owned_subkey_item(alice(), bob(), "bob's", kNow + 5000))
                .find("unauthenticated"),
            std::string::npos);
  StoreItem unsigned_item = owned_subkey_item(alice(), alice(), "bob's", kNow + 5000);
  unsigned_item.signature.reset();
  EXPECT_NE(store_checked(storage, unsigned_item).find("unauthenticated"), std::string::npos);

  const auto record = storage.get(owners.key);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->dictionary().at(*owners.subkey),
            (TimedValue{bytes("alice's"), kNow + 1000, owners.signature}));
}

TEST(OwnedStorageTest, NonOwnerCannotOverwriteAnOwnedKeyEvenWithALaterExpiration) {
  ManualClock clock(kNow);
  LocalStorage storage(clock);
  const StoreItem owners = owned_key_item(alice(), alice(), "alice's", kNow + 1000);
  EXPECT_EQ(store_checked(storage, owners), "stored");

  // Without the key's name the store names no owner: only storage knows that the key is owned.
  const std::string owned_by = "is owned by " + public_key_hex(alice().public_key());
  const StoreItem unsigned_plain{owners.key, std::nullopt, bytes("bob's"), kNow + 5000,
                                 std::nullopt};
  EXPECT_NE(store_checked(storage, unsigned_plain).find(owned_by + ", the store names no owner"),
            std::string::npos);
  // A subkey that bob owns, validly signed, still may not enter alice's key.
  const StoreItem bobs_subkey = signed_item(
      bob(), StoreItem{owners.key, bytes(marker_of(bob())), bytes("bob's"), kNow + 5000,
                       std::nullopt});
  EXPECT_NE(store_checked(storage, bobs_subkey).find(owned_by), std::string::npos);

  EXPECT_EQ(storage.get(owners.key),
            (Record{bytes("alice's"), kNow + 1000, owners.signature, alice().public_key()}));
}

TEST(OwnedStorageTest, OwnersLaterStoreWinsAndEarlierOneDoesNot) {
  ManualClock clock(kNow);
  LocalStorage storage(clock);
  EXPECT_EQ(store_checked(storage, owned_key_item(alice(), alice(), "first", kNow + 1000)),
            "stored");
  const StoreItem later = owned_key_item(alice(), alice(), "second", kNow + 2000);
  EXPECT_EQ(store_checked(storage, later), "stored");
  EXPECT_EQ(store_checked(storage, owned_key_item(alice(), alice(), "third", kNow + 1500)),
            "not_newer");
  EXPECT_EQ(storage.get(later.key),
            (Record{bytes("second"), kNow + 2000, later.signature, alice().public_key()}));
}

TEST(OwnedStorageTest, OwnedStoreReplacesAnEarlierUnownedForgeryWhateverItsExpiration) {
  ManualClock clock(kNow);
  LocalStorage storage(clock);
  const StoreItem owners = owned_key_item(alice(), alice(), "alice's", kNow + 1000);
  // Sent without the key's name, bob's store cannot be told from an honest unowned one.
  EXPECT_EQ(store_checked(storage, StoreItem{owners.key, bytes("s"), bytes("forged"),
                                             kNow + 9000, std::nullopt}),
            "stored");
  EXPECT_EQ(store_checked(storage, owners), "stored");
  EXPECT_EQ(storage.get(owners.key),
            (Record{bytes("alice's"), kNow + 1000, owners.signature, alice().public_key()}));
  EXPECT_EQ(storage.stats().subkeys, 0u);
}

TEST(OwnedStorageTest, SignaturesAndTheOwnersKeyAreAccountedInBytesUsed) {
  ManualClock clock(kNow);
  LocalStorage storage(clock);
  EXPECT_EQ(store_checked(storage, owned_key_item(alice(), alice(), "v", kNow + 1000)),
            "stored");
  const StorageLimits& limits = storage.limits();
  EXPECT_EQ(storage.stats().bytes_used, limits.record_overhead_bytes + net::kPublicKeyBytes + 1u +
                                            net::kSignatureBytes);
  const StoreItem subkey_item = owned_subkey_item(alice(), alice(), "v", kNow + 1000);
  EXPECT_EQ(store_checked(storage, subkey_item), "stored");
  EXPECT_EQ(storage.stats().bytes_used,
            2 * limits.record_overhead_bytes + net::kPublicKeyBytes + 1u + net::kSignatureBytes +
                limits.subkey_overhead_bytes + subkey_item.subkey->size() + 1u +
                net::kSignatureBytes);
}

// ---- The reader's check ----

TEST(DropUnverifiedTest, KeepsOwnersAndUnownedSubkeysAndDropsForgedOnes) {
  const DhtId key = id_of("experts");
  const Bytes alices = bytes("a" + marker_of(alice()));
  const Bytes forged = bytes("b" + marker_of(alice()));
  const Bytes unowned = bytes("c");
  Record record{Dictionary{
                    {alices, {bytes("1"), kNow + 1000,
                              sign_record(alice(), key, alices, bytes("1"), kNow + 1000)}},
                    {forged, {bytes("2"), kNow + 3000,
                              sign_record(bob(), key, forged, bytes("2"), kNow + 3000)}},
                    {unowned, {bytes("3"), kNow + 2000}}},
                kNow + 3000};
  ASSERT_TRUE(drop_unverified(std::nullopt, key, record));
  ASSERT_TRUE(record.is_dictionary());
  EXPECT_EQ(record.dictionary().size(), 2u);
  EXPECT_TRUE(record.dictionary().contains(alices));
  EXPECT_TRUE(record.dictionary().contains(unowned));
  EXPECT_EQ(record.expiration, kNow + 2000);  // the forged subkey's no longer counts
}

TEST(DropUnverifiedTest, UnsignedValueOfAnOwnedKeyLeavesNothing) {
  const std::string name = "experts" + marker_of(alice());
  Record record{bytes("v"), kNow + 1000};
  EXPECT_FALSE(drop_unverified(bytes(name), id_of(name), record));
}

TEST(DropUnverifiedTest, OwnerComesFromTheKeyNameNotFromTheResponder) {
  const StoreItem item = owned_key_item(alice(), alice(), "v", kNow + 1000);
  Record owned{item.value, item.expiration, item.signature, bob().public_key()};
  ASSERT_TRUE(drop_unverified(item.key_name, item.key, owned));
  EXPECT_EQ(owned.owner, alice().public_key());

  Record unowned{bytes("v"), kNow + 1000, std::nullopt, alice().public_key()};
  ASSERT_TRUE(drop_unverified(std::nullopt, id_of("k"), unowned));
  EXPECT_EQ(unowned.owner, std::nullopt);
}

TEST(DropUnverifiedTest, KeyNameOfAnotherKeyVerifiesNothing) {
  const StoreItem item = owned_key_item(alice(), alice(), "v", kNow + 1000);
  Record record{item.value, item.expiration, item.signature};
  EXPECT_FALSE(drop_unverified(bytes("another name"), item.key, record));
}

}  // namespace
}  // namespace hive::dht
