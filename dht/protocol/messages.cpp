#include "dht/protocol/messages.h"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "dht/protocol/field_path.h"
#include "dht/protocol/node_address.h"
#include "dht/schema/dht_generated.h"
#include "net/wire/flatbuffer_bytes.h"

namespace hive::dht {
namespace {

namespace fb = flatbuffers;

// Deepest valid nesting: DhtMessage > FindResponse > FoundRecord > SubkeyValue.
constexpr fb::uoffset_t kMaxDepth = 8;

net::Status protocol_error(std::string message) {
  return net::Status(net::StatusCode::kProtocolError, std::move(message));
}

#define HIVE_DHT_RETURN_IF_ERROR(expression)                \
  do {                                                      \
    net::Status hive_dht_status_ = (expression);            \
    if (!hive_dht_status_.is_ok()) return hive_dht_status_; \
  } while (false)

// ---- Encoding -------------------------------------------------------------------------------

using ByteVector = fb::Offset<fb::Vector<uint8_t>>;

ByteVector bytes_of(fb::FlatBufferBuilder& builder, std::span<const std::byte> bytes) {
  return builder.CreateVector(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// A signature or a public key, when present.
template <size_t N>
ByteVector optional_bytes_of(fb::FlatBufferBuilder& builder,
                             const std::optional<std::array<std::byte, N>>& bytes) {
  return bytes ? bytes_of(builder, *bytes) : 0;
}

ByteVector id_of(fb::FlatBufferBuilder& builder, const DhtId& id) {
  return builder.CreateVector(id.bytes().data(), kIdBytes);
}

fb::Offset<wire::NodeInfo> node_of(fb::FlatBufferBuilder& builder, const NodeInfo& node) {
  const ByteVector id = id_of(builder, node.id);
  const wire::NodeAddress address = to_wire_address(node.address);
  return wire::CreateNodeInfo(builder, id, &address);
}

fb::Offset<wire::NodeInfo> sender_of(fb::FlatBufferBuilder& builder,
                                     const std::optional<NodeInfo>& sender) {
  return sender ? node_of(builder, *sender) : 0;
}

Bytes finish(fb::FlatBufferBuilder& builder, wire::Body type, fb::Offset<void> body) {
  builder.Finish(wire::CreateDhtMessage(builder, type, body), wire::DhtMessageIdentifier());
  return net::finished_bytes(builder);
}

fb::Offset<wire::FoundRecord> found_record_of(fb::FlatBufferBuilder& builder,
                                              const FoundRecord& found) {
  const ByteVector key = id_of(builder, found.key);
  std::vector<fb::Offset<wire::NodeInfo>> nearest;
  nearest.reserve(found.nearest.size());
  for (const NodeInfo& node : found.nearest) nearest.push_back(node_of(builder, node));
  const auto nearest_vector = builder.CreateVector(nearest);

  wire::RecordKind kind = wire::RecordKind::Absent;
  ByteVector value = 0;
  fb::Offset<fb::Vector<fb::Offset<wire::SubkeyValue>>> subkeys = 0;
  DhtTime expiration = 0;
  ByteVector signature = 0;
  ByteVector owner = 0;
  if (found.record) {
    expiration = found.record->expiration;
    owner = optional_bytes_of(builder, found.record->owner);
    if (found.record->is_dictionary()) {
      kind = wire::RecordKind::Dictionary;
      std::vector<fb::Offset<wire::SubkeyValue>> entries;
      entries.reserve(found.record->dictionary().size());
      for (const auto& [subkey, timed] : found.record->dictionary()) {  // increasing subkeys
        const ByteVector subkey_bytes = bytes_of(builder, subkey);
        const ByteVector value_bytes = bytes_of(builder, timed.value);
        const ByteVector signature_bytes = optional_bytes_of(builder, timed.signature);
        entries.push_back(wire::CreateSubkeyValue(builder, subkey_bytes, value_bytes,
                                                  timed.expiration, signature_bytes));
      }
      subkeys = builder.CreateVector(entries);
    } else {
      kind = wire::RecordKind::Plain;
      value = bytes_of(builder, found.record->plain());
      signature = optional_bytes_of(builder, found.record->signature);
    }
  }
  return wire::CreateFoundRecord(builder, key, kind, value, subkeys, expiration, nearest_vector,
                                 signature, owner);
}

// ---- Decoding -------------------------------------------------------------------------------

// "<field><rest...>": formatted only here, on the error path.
template <typename... Rest>
net::Status field_error(const FieldPath& field, const Rest&... rest) {
  return protocol_error(net::str_cat(field.to_string(), rest...));
}

// Validates one verified message into plain values. Every byte copied out is charged against
// the buffer's size: an honest encoder never lets two fields share bytes, so a buffer whose
// fields claim more bytes than it holds aliases them to blow up the decoded size.
class Decoder {
 public:
  Decoder(size_t buffer_bytes, const MessageLimits& limits)
      : buffer_bytes_(buffer_bytes), budget_(buffer_bytes), limits_(limits) {}

  net::Result<DhtMessage> message(const wire::DhtMessage& root);

 private:
  net::Status charge(const FieldPath& field, size_t bytes);
  // "<count> <what>[ in <where>], limit <limit>"
  net::Status count(std::string_view what, const FieldPath* where, size_t count, size_t limit);
  net::Status id(const FieldPath& field, const fb::Vector<uint8_t>* in, DhtId& out);
  net::Status bytes(const FieldPath& field, const fb::Vector<uint8_t>* in, Bytes& out);
  // Absent, or exactly N bytes: a signature or a public key.
  template <size_t N>
  net::Status optional_array(const FieldPath& field, const fb::Vector<uint8_t>* in,
                             std::optional<std::array<std::byte, N>>& out);
  net::Status node(const FieldPath& field, const wire::NodeInfo* in, NodeInfo& out);
  net::Status sender(const FieldPath& field, const wire::NodeInfo* in,
                     std::optional<NodeInfo>& out);

  net::Result<PingRequest> ping_request(const wire::PingRequest& in);
  net::Result<PingResponse> ping_response(const wire::PingResponse& in);
  net::Result<StoreRequest> store_request(const wire::StoreRequest& in);
  net::Result<StoreResponse> store_response(const wire::StoreResponse& in);
  net::Result<FindRequest> find_request(const wire::FindRequest& in);
  net::Result<FindResponse> find_response(const wire::FindResponse& in);
  net::Status store_item(const FieldPath& field, const wire::StoreItem& in, StoreItem& out);
  net::Status found_record(const FieldPath& field, const wire::FoundRecord& in,
                           FoundRecord& out);
  net::Status dictionary(const FieldPath& field,
                         const fb::Vector<fb::Offset<wire::SubkeyValue>>& in,
                         DhtTime expiration, Record& out);

  size_t buffer_bytes_;
  size_t budget_;
  const MessageLimits& limits_;
};

net::Status Decoder::charge(const FieldPath& field, size_t bytes) {
  if (bytes > budget_) {
    return field_error(field, ": ", bytes, " bytes where ", budget_, " of the ", buffer_bytes_,
                       "-byte message remain unclaimed (fields share bytes)");
  }
  budget_ -= bytes;
  return net::Status::ok();
}

net::Status Decoder::count(std::string_view what, const FieldPath* where, size_t count,
                           size_t limit) {
  if (count <= limit) return net::Status::ok();
  if (where == nullptr) return protocol_error(net::str_cat(count, " ", what, ", limit ", limit));
  return protocol_error(
      net::str_cat(count, " ", what, " in ", where->to_string(), ", limit ", limit));
}

net::Status Decoder::id(const FieldPath& field, const fb::Vector<uint8_t>* in, DhtId& out) {
  const size_t size = in == nullptr ? 0 : in->size();
  if (in == nullptr || size != kIdBytes) {
    return field_error(field, " of ", size, " bytes, expected ", kIdBytes);
  }
  HIVE_DHT_RETURN_IF_ERROR(charge(field, size));
  std::array<uint8_t, kIdBytes> bytes{};
  std::memcpy(bytes.data(), in->data(), kIdBytes);
  out = DhtId(bytes);
  return net::Status::ok();
}

net::Status Decoder::bytes(const FieldPath& field, const fb::Vector<uint8_t>* in, Bytes& out) {
  if (in == nullptr) {
    out.clear();
    return net::Status::ok();
  }
  HIVE_DHT_RETURN_IF_ERROR(charge(field, in->size()));
  const auto* begin = reinterpret_cast<const std::byte*>(in->data());
  out.assign(begin, begin + in->size());
  return net::Status::ok();
}

template <size_t N>
net::Status Decoder::optional_array(const FieldPath& field, const fb::Vector<uint8_t>* in,
                                    std::optional<std::array<std::byte, N>>& out) {
  out.reset();
  if (in == nullptr) return net::Status::ok();
  if (in->size() != N) {
    return field_error(field, " of ", in->size(), " bytes, expected ", N, " or none");
  }
  HIVE_DHT_RETURN_IF_ERROR(charge(field, N));
  out.emplace();
  std::memcpy(out->data(), in->data(), N);
  return net::Status::ok();
}

net::Status Decoder::node(const FieldPath& field, const wire::NodeInfo* in, NodeInfo& out) {
  if (in == nullptr) return field_error(field, " is missing");
  HIVE_DHT_RETURN_IF_ERROR(id(field.child(" id"), in->id(), out.id));
  if (in->address() == nullptr) return field_error(field, " has no address");
  HIVE_DHT_RETURN_IF_ERROR(charge(field, sizeof(wire::NodeAddress)));
  net::Result<net::SocketAddress> address = from_wire_address(*in->address());
  if (!address.is_ok()) return field_error(field, ": ", address.status().message());
  out.address = address.value();
  return net::Status::ok();
}

net::Status Decoder::sender(const FieldPath& field, const wire::NodeInfo* in,
                            std::optional<NodeInfo>& out) {
  if (in == nullptr) {
    out.reset();
    return net::Status::ok();
  }
  out.emplace();
  return node(field, in, *out);
}

net::Result<PingRequest> Decoder::ping_request(const wire::PingRequest& in) {
  PingRequest out;
  HIVE_DHT_RETURN_IF_ERROR(sender(FieldPath("ping request: sender"), in.sender(), out.sender));
  return out;
}

net::Result<PingResponse> Decoder::ping_response(const wire::PingResponse& in) {
  PingResponse out;
  HIVE_DHT_RETURN_IF_ERROR(
      node(FieldPath("ping response: responder"), in.responder(), out.responder));
  out.dht_time = in.dht_time();
  return out;
}

net::Status Decoder::store_item(const FieldPath& field, const wire::StoreItem& in,
                                StoreItem& out) {
  HIVE_DHT_RETURN_IF_ERROR(id(field.child(" key"), in.key(), out.key));
  if (in.subkey() != nullptr) {
    out.subkey.emplace();
    HIVE_DHT_RETURN_IF_ERROR(bytes(field.child(" subkey"), in.subkey(), *out.subkey));
  }
  HIVE_DHT_RETURN_IF_ERROR(bytes(field.child(" value"), in.value(), out.value));
  out.expiration = in.expiration();
  HIVE_DHT_RETURN_IF_ERROR(optional_array(field.child(" signature"), in.signature(),
                                          out.signature));
  if (in.key_name() != nullptr) {
    if (in.key_name()->size() > limits_.max_key_name_bytes) {
      return field_error(field, " key name of ", in.key_name()->size(), " bytes, limit ",
                         limits_.max_key_name_bytes);
    }
    out.key_name.emplace();
    HIVE_DHT_RETURN_IF_ERROR(bytes(field.child(" key name"), in.key_name(), *out.key_name));
  }
  return net::Status::ok();
}

net::Result<StoreRequest> Decoder::store_request(const wire::StoreRequest& in) {
  StoreRequest out;
  HIVE_DHT_RETURN_IF_ERROR(sender(FieldPath("store request: sender"), in.sender(), out.sender));
  out.in_cache = in.in_cache();
  if (in.items() == nullptr) return out;
  HIVE_DHT_RETURN_IF_ERROR(
      count("store request items", nullptr, in.items()->size(), limits_.max_items));
  out.items.resize(in.items()->size());
  for (fb::uoffset_t i = 0; i < in.items()->size(); ++i) {
    const wire::StoreItem* item = in.items()->Get(i);
    const FieldPath field("store request: item", i);
    if (item == nullptr) return field_error(field, " is missing");
    HIVE_DHT_RETURN_IF_ERROR(store_item(field, *item, out.items[i]));
  }
  return out;
}

net::Result<StoreResponse> Decoder::store_response(const wire::StoreResponse& in) {
  StoreResponse out;
  if (in.outcomes() == nullptr) return out;
  const auto& outcomes = *in.outcomes();
  HIVE_DHT_RETURN_IF_ERROR(
      count("store response outcomes", nullptr, outcomes.size(), limits_.max_items));
  HIVE_DHT_RETURN_IF_ERROR(charge(FieldPath("store response: outcomes"), outcomes.size()));
  out.outcomes.reserve(outcomes.size());
  for (fb::uoffset_t i = 0; i < outcomes.size(); ++i) {
    const uint8_t value = outcomes.Get(i);
    if (value > kMaxStoreItemOutcome) {
      return protocol_error(net::str_cat("store response: outcome ", i, " is ", int{value},
                                         ", expected 0..", int{kMaxStoreItemOutcome}));
    }
    out.outcomes.push_back(static_cast<StoreItemOutcome>(value));
  }
  return out;
}

net::Result<FindRequest> Decoder::find_request(const wire::FindRequest& in) {
  FindRequest out;
  HIVE_DHT_RETURN_IF_ERROR(sender(FieldPath("find request: sender"), in.sender(), out.sender));
  if (in.keys() == nullptr) return out;
  HIVE_DHT_RETURN_IF_ERROR(
      count("find request keys", nullptr, in.keys()->size(), limits_.max_items));
  out.keys.resize(in.keys()->size());
  for (fb::uoffset_t i = 0; i < in.keys()->size(); ++i) {
    const wire::KeyId* key = in.keys()->Get(i);
    HIVE_DHT_RETURN_IF_ERROR(id(FieldPath("find request: key", i),
                                key == nullptr ? nullptr : key->id(), out.keys[i]));
  }
  return out;
}

net::Status Decoder::dictionary(const FieldPath& field,
                                const fb::Vector<fb::Offset<wire::SubkeyValue>>& in,
                                DhtTime expiration, Record& out) {
  HIVE_DHT_RETURN_IF_ERROR(count("subkeys", &field, in.size(), limits_.max_subkeys));
  if (in.size() == 0) return field_error(field, ": dictionary without subkeys");
  Dictionary entries;
  DhtTime latest = INT64_MIN;
  for (fb::uoffset_t i = 0; i < in.size(); ++i) {
    const wire::SubkeyValue* entry = in.Get(i);
    const FieldPath entry_field = field.item(" subkey", i);
    if (entry == nullptr || entry->subkey() == nullptr) {
      return field_error(entry_field, " is missing");
    }
    Bytes subkey;
    TimedValue timed;
    HIVE_DHT_RETURN_IF_ERROR(bytes(entry_field, entry->subkey(), subkey));
    HIVE_DHT_RETURN_IF_ERROR(bytes(entry_field.child(" value"), entry->value(), timed.value));
    HIVE_DHT_RETURN_IF_ERROR(optional_array(entry_field.child(" signature"), entry->signature(),
                                            timed.signature));
    timed.expiration = entry->expiration();
    latest = std::max(latest, timed.expiration);
    // Sorted and unique on the wire, so each insertion goes at the end.
    if (!entries.empty() && !(entries.rbegin()->first < subkey)) {
      return field_error(entry_field,
                         " does not follow the previous one in increasing order"
                         " (duplicate or unsorted)");
    }
    entries.emplace_hint(entries.end(), std::move(subkey), std::move(timed));
  }
  if (expiration != latest) {
    return field_error(field, ": dictionary expiration ", expiration,
                       " is not its latest subkey's, ", latest);
  }
  out.value = std::move(entries);
  out.expiration = expiration;
  return net::Status::ok();
}

net::Status Decoder::found_record(const FieldPath& field, const wire::FoundRecord& in,
                                  FoundRecord& out) {
  HIVE_DHT_RETURN_IF_ERROR(id(field.child(" key"), in.key(), out.key));
  const auto kind = static_cast<uint8_t>(in.kind());
  switch (in.kind()) {
    case wire::RecordKind::Absent:
      if (in.value() != nullptr || in.subkeys() != nullptr || in.signature() != nullptr ||
          in.owner() != nullptr) {
        return field_error(field, ": an absent record carries a value, signature or owner");
      }
      out.record.reset();
      break;
    case wire::RecordKind::Plain: {
      if (in.subkeys() != nullptr) return field_error(field, ": a plain record carries subkeys");
      Bytes value;
      HIVE_DHT_RETURN_IF_ERROR(bytes(field.child(" value"), in.value(), value));
      out.record = Record{std::move(value), in.expiration()};
      HIVE_DHT_RETURN_IF_ERROR(optional_array(field.child(" signature"), in.signature(),
                                              out.record->signature));
      break;
    }
    case wire::RecordKind::Dictionary:
      if (in.value() != nullptr || in.subkeys() == nullptr) {
        return field_error(field, ": a dictionary record needs subkeys and no value");
      }
      if (in.signature() != nullptr) {
        return field_error(field,
                           ": a dictionary record carries a plain value's signature (its"
                           " subkeys carry their own)");
      }
      out.record.emplace();
      HIVE_DHT_RETURN_IF_ERROR(dictionary(field, *in.subkeys(), in.expiration(), *out.record));
      break;
    default:
      return field_error(field, ": unknown record kind ", int{kind}, ", expected 0..2");
  }
  if (out.record) {
    HIVE_DHT_RETURN_IF_ERROR(
        optional_array(field.child(" owner key"), in.owner(), out.record->owner));
  }
  if (in.nearest() != nullptr) {
    HIVE_DHT_RETURN_IF_ERROR(
        count("nearest nodes", &field, in.nearest()->size(), limits_.max_nearest));
    out.nearest.resize(in.nearest()->size());
    for (fb::uoffset_t i = 0; i < in.nearest()->size(); ++i) {
      HIVE_DHT_RETURN_IF_ERROR(
          node(field.item(" nearest node", i), in.nearest()->Get(i), out.nearest[i]));
    }
  }
  return net::Status::ok();
}

net::Result<FindResponse> Decoder::find_response(const wire::FindResponse& in) {
  FindResponse out;
  if (in.records() == nullptr) return out;
  HIVE_DHT_RETURN_IF_ERROR(
      count("find response records", nullptr, in.records()->size(), limits_.max_items));
  out.records.resize(in.records()->size());
  for (fb::uoffset_t i = 0; i < in.records()->size(); ++i) {
    const wire::FoundRecord* record = in.records()->Get(i);
    const FieldPath field("find response: record", i);
    if (record == nullptr) return field_error(field, " is missing");
    HIVE_DHT_RETURN_IF_ERROR(found_record(field, *record, out.records[i]));
  }
  return out;
}

// Turns a typed result into a DhtMessage result.
template <typename T>
net::Result<DhtMessage> as_message(net::Result<T> result) {
  if (!result.is_ok()) return result.status();
  return DhtMessage(std::move(result).value());
}

net::Result<DhtMessage> Decoder::message(const wire::DhtMessage& root) {
  const auto type = static_cast<uint8_t>(root.body_type());
  switch (root.body_type()) {
    case wire::Body::PingRequest:
      if (const auto* body = root.body_as_PingRequest()) return as_message(ping_request(*body));
      break;
    case wire::Body::PingResponse:
      if (const auto* body = root.body_as_PingResponse()) return as_message(ping_response(*body));
      break;
    case wire::Body::StoreRequest:
      if (const auto* body = root.body_as_StoreRequest()) return as_message(store_request(*body));
      break;
    case wire::Body::StoreResponse:
      if (const auto* body = root.body_as_StoreResponse()) {
        return as_message(store_response(*body));
      }
      break;
    case wire::Body::FindRequest:
      if (const auto* body = root.body_as_FindRequest()) return as_message(find_request(*body));
      break;
    case wire::Body::FindResponse:
      if (const auto* body = root.body_as_FindResponse()) return as_message(find_response(*body));
      break;
    default:
      return protocol_error(net::str_cat("DHT message of unknown kind ", int{type}));
  }
  return protocol_error(net::str_cat("DHT message of kind ", int{type}, " without a body"));
}

#undef HIVE_DHT_RETURN_IF_ERROR

}  // namespace

std::string_view store_item_outcome_name(StoreItemOutcome outcome) {
  switch (outcome) {
    case StoreItemOutcome::kStored: return "stored";
    case StoreItemOutcome::kAlreadyExpired: return "already_expired";
    case StoreItemOutcome::kNotNewer: return "not_newer";
    case StoreItemOutcome::kRefused: return "refused";
  }
  return "unknown";
}

StoreItemOutcome to_store_item_outcome(StoreOutcome outcome) {
  switch (outcome) {
    case StoreOutcome::kStored: return StoreItemOutcome::kStored;
    case StoreOutcome::kAlreadyExpired: return StoreItemOutcome::kAlreadyExpired;
    case StoreOutcome::kNotNewer: return StoreItemOutcome::kNotNewer;
  }
  HIVE_NET_CHECK(false, "unknown StoreOutcome ", static_cast<int>(outcome));
  return StoreItemOutcome::kRefused;
}

std::string_view message_kind_name(const DhtMessage& message) {
  static constexpr std::array<std::string_view, std::variant_size_v<DhtMessage>> kNames = {
      "ping request", "ping response", "store request",
      "store response", "find request", "find response"};
  return kNames[message.index()];
}

Bytes encode_ping_request(const PingRequest& message) {
  fb::FlatBufferBuilder builder(256);
  const auto sender = sender_of(builder, message.sender);
  return finish(builder, wire::Body::PingRequest,
                wire::CreatePingRequest(builder, sender).Union());
}

Bytes encode_ping_response(const PingResponse& message) {
  fb::FlatBufferBuilder builder(256);
  const auto responder = node_of(builder, message.responder);
  return finish(builder, wire::Body::PingResponse,
                wire::CreatePingResponse(builder, responder, message.dht_time).Union());
}

Bytes encode_store_request(const StoreRequest& message) {
  fb::FlatBufferBuilder builder(1024);
  const auto sender = sender_of(builder, message.sender);
  std::vector<fb::Offset<wire::StoreItem>> items;
  items.reserve(message.items.size());
  for (const StoreItem& item : message.items) {
    const ByteVector key = id_of(builder, item.key);
    const ByteVector subkey = item.subkey ? bytes_of(builder, *item.subkey) : 0;
    const ByteVector value = bytes_of(builder, item.value);
    const ByteVector signature = optional_bytes_of(builder, item.signature);
    const ByteVector key_name = item.key_name ? bytes_of(builder, *item.key_name) : 0;
    items.push_back(wire::CreateStoreItem(builder, key, subkey, value, item.expiration, signature,
                                          key_name));
  }
  const auto item_vector = builder.CreateVector(items);
  return finish(builder, wire::Body::StoreRequest,
                wire::CreateStoreRequest(builder, sender, item_vector, message.in_cache).Union());
}

Bytes encode_store_response(const StoreResponse& message) {
  fb::FlatBufferBuilder builder(256);
  std::vector<uint8_t> outcomes;
  outcomes.reserve(message.outcomes.size());
  for (const StoreItemOutcome outcome : message.outcomes) {
    outcomes.push_back(static_cast<uint8_t>(outcome));
  }
  const auto outcome_vector = builder.CreateVector(outcomes);
  return finish(builder, wire::Body::StoreResponse,
                wire::CreateStoreResponse(builder, outcome_vector).Union());
}

Bytes encode_find_request(const FindRequest& message) {
  fb::FlatBufferBuilder builder(1024);
  const auto sender = sender_of(builder, message.sender);
  std::vector<fb::Offset<wire::KeyId>> keys;
  keys.reserve(message.keys.size());
  for (const DhtId& key : message.keys) {
    keys.push_back(wire::CreateKeyId(builder, id_of(builder, key)));
  }
  const auto key_vector = builder.CreateVector(keys);
  return finish(builder, wire::Body::FindRequest,
                wire::CreateFindRequest(builder, sender, key_vector).Union());
}

Bytes encode_find_response(const FindResponse& message) {
  fb::FlatBufferBuilder builder(4096);
  std::vector<fb::Offset<wire::FoundRecord>> records;
  records.reserve(message.records.size());
  for (const FoundRecord& found : message.records) {
    records.push_back(found_record_of(builder, found));
  }
  const auto record_vector = builder.CreateVector(records);
  return finish(builder, wire::Body::FindResponse,
                wire::CreateFindResponse(builder, record_vector).Union());
}

Bytes encode_message(const DhtMessage& message) {
  struct Encode {
    Bytes operator()(const PingRequest& m) const { return encode_ping_request(m); }
    Bytes operator()(const PingResponse& m) const { return encode_ping_response(m); }
    Bytes operator()(const StoreRequest& m) const { return encode_store_request(m); }
    Bytes operator()(const StoreResponse& m) const { return encode_store_response(m); }
    Bytes operator()(const FindRequest& m) const { return encode_find_request(m); }
    Bytes operator()(const FindResponse& m) const { return encode_find_response(m); }
  };
  return std::visit(Encode{}, message);
}

net::Result<DhtMessage> decode_message(std::span<const std::byte> bytes,
                                       const MessageLimits& limits) {
  // max_tables 0: a quarter of the buffer's size (see net::FlatBufferLimits).
  const net::CheckedFlatBuffer buffer(bytes, wire::DhtMessageIdentifier(), {kMaxDepth, 0},
                                      wire::VerifyDhtMessageBuffer);
  switch (buffer.check()) {
    case net::FlatBufferCheck::kOk: break;
    case net::FlatBufferCheck::kMissingIdentifier:
      return protocol_error(net::str_cat("DHT message of ", bytes.size(),
                                         " bytes lacks the file identifier ",
                                         wire::DhtMessageIdentifier()));
    case net::FlatBufferCheck::kFailsVerification:
      return protocol_error(net::str_cat("DHT message of ", bytes.size(),
                                         " bytes fails FlatBuffers verification"));
  }
  Decoder decoder(bytes.size(), limits);
  return decoder.message(buffer.root<wire::DhtMessage>());
}

}  // namespace hive::dht
