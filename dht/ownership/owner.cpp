#include "dht/ownership/owner.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

namespace hive::dht {
namespace {

constexpr uint32_t kNoSubkey = 0xFFFFFFFF;

void append(Bytes& out, std::span<const std::byte> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

template <typename Integer>
void append_little_endian(Bytes& out, Integer value) {
  const auto bits = static_cast<std::make_unsigned_t<Integer>>(value);
  for (size_t i = 0; i < sizeof(Integer); ++i) {
    out.push_back(static_cast<std::byte>((bits >> (8 * i)) & 0xFF));
  }
}

void append_length(Bytes& out, size_t length) {
  HIVE_NET_CHECK(length < kNoSubkey, "a signed record field of ", length,
                 " bytes does not fit its u32 length");
  append_little_endian(out, static_cast<uint32_t>(length));
}

Bytes signed_bytes(const DhtId& key, const std::optional<Bytes>& subkey, const Bytes& value,
                   DhtTime expiration) {
  Bytes out;
  out.reserve(kRecordSignatureDomain.size() + kIdBytes + 4 + (subkey ? subkey->size() : 0) + 4 +
              value.size() + sizeof(DhtTime));
  append(out, std::as_bytes(std::span(kRecordSignatureDomain.data(),
                                      kRecordSignatureDomain.size())));
  append(out, std::as_bytes(std::span(key.bytes())));
  if (subkey) {
    append_length(out, subkey->size());
    append(out, *subkey);
  } else {
    append_little_endian(out, kNoSubkey);
  }
  append_length(out, value.size());
  append(out, value);
  append_little_endian(out, expiration);
  return out;
}

net::Status refusal(net::StatusCode code, const DhtId& key, std::string what) {
  return net::Status(code, net::str_cat("record under key ", key.to_hex(), ": ", what));
}

// The owner that key_name names, once it is known to be the name of key.
net::Result<std::optional<net::PublicKey>> key_owner(const std::optional<Bytes>& key_name,
                                                     const DhtId& key) {
  if (!key_name) return std::optional<net::PublicKey>();
  const std::string_view name(reinterpret_cast<const char*>(key_name->data()), key_name->size());
  if (const DhtId named = DhtId::of_key(name); named != key) {
    return refusal(net::StatusCode::kProtocolError, key,
                   net::str_cat("the key name of ", name.size(), " bytes hashes to ",
                                named.to_hex(), ", not to the key"));
  }
  net::Result<std::optional<net::PublicKey>> owner = owner_named_in(*key_name);
  if (!owner.is_ok()) {
    return refusal(net::StatusCode::kProtocolError, key,
                   net::str_cat("key name: ", owner.status().message()));
  }
  return owner;
}

// One plain value or subkey, under a key whose name names key_owner (or nothing): the entry
// must be signed when the key or its subkey names an owner, and only then.
net::Status check_signed_by_owner(const std::optional<net::PublicKey>& key_owner,
                                  const DhtId& key, const std::optional<Bytes>& subkey,
                                  const Bytes& value, DhtTime expiration,
                                  const std::optional<net::Signature>& signature) {
  std::optional<net::PublicKey> owner = key_owner;
  if (subkey) {
    net::Result<std::optional<net::PublicKey>> subkey_owner = owner_named_in(*subkey);
    if (!subkey_owner.is_ok()) {
      return refusal(net::StatusCode::kProtocolError, key,
                     net::str_cat("subkey: ", subkey_owner.status().message()));
    }
    if (owner && subkey_owner.value() && *owner != *subkey_owner.value()) {
      return refusal(net::StatusCode::kProtocolError, key,
                     net::str_cat("the key name names owner ", public_key_hex(*owner),
                                  " but the subkey names owner ",
                                  public_key_hex(*subkey_owner.value())));
    }
    if (!owner) owner = subkey_owner.value();
  }
  if (!owner) {
    if (!signature) return net::Status::ok();
    return refusal(net::StatusCode::kProtocolError, key,
                   "signature without an owner: neither the key name nor the subkey names one");
  }
  if (!signature) {
    return refusal(net::StatusCode::kUnauthenticated, key,
                   net::str_cat("owner ", public_key_hex(*owner), " is named but the ",
                                subkey ? "subkey's value" : "value", " is not signed"));
  }
  if (!verify_record(*owner, key, subkey, value, expiration, *signature)) {
    return refusal(net::StatusCode::kUnauthenticated, key,
                   net::str_cat("the signature is not owner ", public_key_hex(*owner),
                                "'s over this ", subkey ? "subkey, " : "", "value of ",
                                value.size(), " bytes and expiration ", expiration));
  }
  return net::Status::ok();
}

}  // namespace

net::Signature sign_record(const net::Identity& owner, const DhtId& key,
                           const std::optional<Bytes>& subkey, const Bytes& value,
                           DhtTime expiration) {
  return owner.sign(signed_bytes(key, subkey, value, expiration));
}

bool verify_record(const net::PublicKey& owner, const DhtId& key,
                   const std::optional<Bytes>& subkey, const Bytes& value, DhtTime expiration,
                   const net::Signature& signature) {
  return net::verify_signature(owner, signed_bytes(key, subkey, value, expiration), signature);
}

net::Result<StoreProof> validate_store_item(const StoreItem& item) {
  net::Result<std::optional<net::PublicKey>> owner = key_owner(item.key_name, item.key);
  if (!owner.is_ok()) return owner.status();
  net::Status signed_by_owner = check_signed_by_owner(owner.value(), item.key, item.subkey,
                                                      item.value, item.expiration,
                                                      item.signature);
  if (!signed_by_owner.is_ok()) return signed_by_owner;
  return StoreProof{item.signature, owner.value()};
}

bool drop_unverified(const std::optional<Bytes>& key_name, const DhtId& key, Record& record) {
  net::Result<std::optional<net::PublicKey>> owner = key_owner(key_name, key);
  if (!owner.is_ok()) return false;
  record.owner = owner.value();
  if (!record.is_dictionary()) {
    return check_signed_by_owner(record.owner, key, std::nullopt, record.plain(),
                                 record.expiration, record.signature)
        .is_ok();
  }
  auto& dictionary = std::get<Dictionary>(record.value);
  std::erase_if(dictionary, [&](const auto& entry) {
    const auto& [subkey, timed] = entry;
    return !check_signed_by_owner(record.owner, key, subkey, timed.value, timed.expiration,
                                  timed.signature)
                .is_ok();
  });
  if (dictionary.empty()) return false;
  record.expiration = std::ranges::max_element(dictionary, {}, [](const auto& entry) {
                        return entry.second.expiration;
                      })->second.expiration;
  return true;
}

}  // namespace hive::dht
