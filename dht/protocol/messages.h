// The DHT's RPC messages as plain values, and their FlatBuffers encoding (dht/schema/dht.fbs).
// Semantics follow hivemind's DHT protocol: ping (liveness, clock skew, routing-table updates),
// store (a batch of plain values or subkeys) and find (records and nearest nodes for a batch of
// keys). The encoded bytes travel as the metadata of a net message whose method is one of the
// k*Method names below.
//
// Decoding trusts nothing: the buffer passes flatbuffers::Verifier (small depth, a table budget
// proportional to its size), then every field is checked (ids of 20 bytes, IPv4 or IPv6
// addresses, signatures absent or 64 bytes, owner keys absent or 32 bytes, key names and counts
// within MessageLimits, enum values in range, no byte shared between two fields). Any failure is
// a kProtocolError Status naming the field and its value. Decoding checks no signature: that is
// dht/ownership's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dht/core/dht_id.h"
#include "dht/core/dht_time.h"
#include "dht/storage/local_storage.h"
#include "dht/storage/record.h"
#include "net/core/check.h"
#include "net/core/status.h"
#include "net/identity/identity.h"
#include "net/transport/socket_address.h"

namespace hive::dht {

inline constexpr std::string_view kPingMethod = "dht.ping";
inline constexpr std::string_view kStoreMethod = "dht.store";
inline constexpr std::string_view kFindMethod = "dht.find";

// Bounds that decoding enforces on a peer's message.
struct MessageLimits {
  size_t max_items = 1024;           // store items, store outcomes, find keys, found records
  size_t max_nearest = 64;           // nearest nodes per found record
  size_t max_subkeys = 4096;         // subkeys per found record
  size_t max_key_name_bytes = 1024;  // a store item's key name
};

// A DHT node as others reach it.
struct NodeInfo {
  DhtId id;
  net::SocketAddress address;  // its UDP and TCP endpoint

  bool operator==(const NodeInfo&) const = default;
};

struct PingRequest {
  std::optional<NodeInfo> sender;  // absent in client mode

  bool operator==(const PingRequest&) const = default;
};

struct PingResponse {
  NodeInfo responder;
  DhtTime dht_time = 0;  // the responder's clock when it answered

  bool operator==(const PingResponse&) const = default;
};

struct StoreItem {
  DhtId key;
  std::optional<Bytes> subkey;  // absent: a plain record
  Bytes value;
  DhtTime expiration = 0;
  // By the owner that the key's name or the subkey names (dht/ownership/owner.h).
  std::optional<net::Signature> signature;
  // The key's name, when it names an owner: the DHT otherwise sends only its hash, so the
  // storing node could not know that the key is owned.
  std::optional<Bytes> key_name = std::nullopt;

  bool operator==(const StoreItem&) const = default;
};

struct StoreRequest {
  std::optional<NodeInfo> sender;  // absent in client mode
  std::vector<StoreItem> items;
  bool in_cache = false;  // into the cache of found values rather than the storage proper

  bool operator==(const StoreRequest&) const = default;
};

// What became of one store item: LocalStorage's StoreOutcome, or a refusal (a size limit, a bad
// signature: anything LocalStorage or the node answered with an error).
enum class StoreItemOutcome : uint8_t {
  kStored = 0,
  kAlreadyExpired = 1,
  kNotNewer = 2,
  kRefused = 3,
};
inline constexpr uint8_t kMaxStoreItemOutcome = 3;
std::string_view store_item_outcome_name(StoreItemOutcome outcome);
StoreItemOutcome to_store_item_outcome(StoreOutcome outcome);

struct StoreResponse {
  std::vector<StoreItemOutcome> outcomes;  // one per item of the request, in order

  bool operator==(const StoreResponse&) const = default;
};

struct FindRequest {
  std::optional<NodeInfo> sender;  // absent in client mode
  std::vector<DhtId> keys;

  bool operator==(const FindRequest&) const = default;
};

struct FoundRecord {
  DhtId key;
  // absent: the responder holds nothing unexpired under key. Signatures and the key's owner
  // come with it, so that a reader can check them (dht/ownership) and store it elsewhere.
  std::optional<Record> record;
  std::vector<NodeInfo> nearest;  // the responder's nearest known nodes to key

  bool operator==(const FoundRecord&) const = default;
};

struct FindResponse {
  std::vector<FoundRecord> records;  // one per key of the request, in order

  bool operator==(const FindResponse&) const = default;
};

using DhtMessage = std::variant<PingRequest, PingResponse, StoreRequest, StoreResponse,
                                FindRequest, FindResponse>;

// "ping request", "find response", ...
std::string_view message_kind_name(const DhtMessage& message);

Bytes encode_ping_request(const PingRequest& message);
Bytes encode_ping_response(const PingResponse& message);
Bytes encode_store_request(const StoreRequest& message);
Bytes encode_store_response(const StoreResponse& message);
Bytes encode_find_request(const FindRequest& message);
Bytes encode_find_response(const FindResponse& message);
Bytes encode_message(const DhtMessage& message);

net::Result<DhtMessage> decode_message(std::span<const std::byte> bytes,
                                       const MessageLimits& limits = {});

// decode_message, then a kProtocolError unless the message is a T (e.g. the response a call
// expects): "expected a ping response, got a find response".
template <typename T>
net::Result<T> decode_as(std::span<const std::byte> bytes, const MessageLimits& limits = {}) {
  net::Result<DhtMessage> decoded = decode_message(bytes, limits);
  if (!decoded.is_ok()) return decoded.status();
  if (T* typed = std::get_if<T>(&decoded.value())) return std::move(*typed);
  return net::Status(net::StatusCode::kProtocolError,
                     net::str_cat("expected a ", message_kind_name(DhtMessage(T{})), ", got a ",
                                  message_kind_name(decoded.value())));
}

}  // namespace hive::dht
