// DHT RPC messages: every message type round-trips with every field set, and decoding rejects
// buffers that are not DHT messages (wrong identifier, random or truncated bytes) or whose fields
// are invalid (ids not 20 bytes, bad addresses, signatures not 64 bytes, owner keys not 32 bytes,
// key names and counts above the limits, unknown outcomes, signatures or owners where the record
// kind allows none). Malformed messages are built with the generated FlatBuffers API directly.
#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "dht/protocol/messages.h"
#include "dht/schema/dht_generated.h"
#include "tests/dht/dht_test_util.h"

namespace hive::dht {
namespace {

constexpr DhtTime kNow = 1'700'000'000'000;  // ms since the epoch

using testing::bytes;

Bytes random_bytes(std::mt19937& random, size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  Bytes out(size);
  for (std::byte& b : out) b = static_cast<std::byte>(byte(random));
  return out;
}

DhtId id(uint8_t n) {
  std::array<uint8_t, kIdBytes> bytes{};
  bytes[0] = 0xA0;
  bytes[kIdBytes - 1] = n;
  return DhtId(bytes);
}

NodeInfo node(uint8_t n, std::string_view address) {
  return NodeInfo{id(n), net::SocketAddress::parse(address).value()};
}

net::Signature signature(uint8_t fill) {
  net::Signature out;
  out.fill(static_cast<std::byte>(fill));
  return out;
}

net::PublicKey public_key(uint8_t fill) {
  net::PublicKey out;
  out.fill(static_cast<std::byte>(fill));
  return out;
}

template <typename T>
T round_trip(const Bytes& encoded) {
  net::Result<T> decoded = decode_as<T>(encoded);
  EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  return decoded.is_ok() ? std::move(decoded).value() : T{};
}

void expect_protocol_error(std::span<const std::byte> encoded, std::string_view message_part) {
  net::Result<DhtMessage> decoded = decode_message(encoded);
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), net::StatusCode::kProtocolError);
  EXPECT_NE(decoded.status().message().find(message_part), std::string::npos)
      << decoded.status().message();
}

// ---- Raw FlatBuffers for malformed messages ----

using RawBytes = std::vector<uint8_t>;

RawBytes raw_id(size_t size) { return RawBytes(size, 0x5A); }

Bytes finish(flatbuffers::FlatBufferBuilder& builder, wire::Body type,
             flatbuffers::Offset<void> body, const char* identifier = "HDT1") {
  builder.Finish(wire::CreateDhtMessage(builder, type, body), identifier);
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return Bytes(begin, begin + builder.GetSize());
}

// 10.0.0.1:4000 on the wire.
wire::NodeAddress raw_address(wire::AddressFamily family = wire::AddressFamily::IPv4,
                              uint8_t last_ip_byte = 0) {
  std::array<uint8_t, 16> ip{10, 0, 0, 1};
  ip[15] = last_ip_byte;
  return wire::NodeAddress(ip, 4000, family);
}

Bytes raw_ping_request(const RawBytes& sender_id, const wire::NodeAddress& sender_address) {
  flatbuffers::FlatBufferBuilder builder;
  auto sender = wire::CreateNodeInfoDirect(builder, &sender_id, &sender_address);
  return finish(builder, wire::Body::PingRequest, wire::CreatePingRequest(builder, sender).Union());
}

Bytes raw_store_request(const RawBytes* signature, const RawBytes* key_name = nullptr) {
  flatbuffers::FlatBufferBuilder builder;
  const RawBytes key = raw_id(kIdBytes);
  const RawBytes value = {1, 2, 3};
  std::vector<flatbuffers::Offset<wire::StoreItem>> items = {
      wire::CreateStoreItemDirect(builder, &key, nullptr, &value, kNow, signature, key_name)};
  return finish(builder, wire::Body::StoreRequest,
                wire::CreateStoreRequestDirect(builder, 0, &items, false).Union());
}

// A find response with one record of `kind`: a value (Plain), one subkey (Dictionary) or nothing
// (Absent), with the given signatures and owner key.
Bytes raw_find_response(wire::RecordKind kind, const RawBytes* signature,
                        const RawBytes* subkey_signature, const RawBytes* owner) {
  flatbuffers::FlatBufferBuilder builder;
  const RawBytes key = raw_id(kIdBytes);
  const RawBytes value = {1, 2, 3};
  const RawBytes subkey = {'a'};
  std::vector<flatbuffers::Offset<wire::SubkeyValue>> subkeys = {
      wire::CreateSubkeyValueDirect(builder, &subkey, &value, kNow, subkey_signature)};
  const bool plain = kind == wire::RecordKind::Plain;
  const bool dictionary = kind == wire::RecordKind::Dictionary;
  std::vector<flatbuffers::Offset<wire::FoundRecord>> records = {wire::CreateFoundRecordDirect(
      builder, &key, kind, plain ? &value : nullptr, dictionary ? &subkeys : nullptr, kNow,
      nullptr, signature, owner)};
  return finish(builder, wire::Body::FindResponse,
                wire::CreateFindResponseDirect(builder, &records).Union());
}

// ---- Round trips ----

TEST(DhtProtocolTest, PingRequestRoundTripsWithSender) {
  const PingRequest request{node(1, "10.0.0.1:4000")};
  EXPECT_EQ(round_trip<PingRequest>(encode_ping_request(request)), request);
}

TEST(DhtProtocolTest, PingRequestRoundTripsWithoutSenderInClientMode) {
  const PingRequest decoded = round_trip<PingRequest>(encode_ping_request(PingRequest{}));
  EXPECT_FALSE(decoded.sender.has_value());
}

TEST(DhtProtocolTest, PingResponseRoundTripsResponderAndTime) {
  const PingResponse response{node(2, "[::1]:4001"), kNow + 17};
  EXPECT_EQ(round_trip<PingResponse>(encode_ping_response(response)), response);
}

TEST(DhtProtocolTest, StoreRequestRoundTripsEveryField) {
  std::mt19937 random(7);
  StoreRequest request;
  request.sender = node(3, "192.168.1.7:65535");
  request.in_cache = true;
  request.items.push_back(StoreItem{id(10), std::nullopt, random_bytes(random, 100), kNow + 1000,
                                    std::nullopt});
  request.items.push_back(StoreItem{id(11), bytes("subkey"), random_bytes(random, 7), kNow + 2000,
                                    signature(0xEE)});
  request.items.push_back(StoreItem{id(12), Bytes{}, Bytes{}, -5, std::nullopt});  // empty subkey
  request.items.push_back(StoreItem{id(13), std::nullopt, bytes("owned"), kNow + 3000,
                                    signature(0xDD), bytes("key[owner:...]")});
  request.items.push_back(StoreItem{id(14), std::nullopt, Bytes{}, kNow, std::nullopt, Bytes{}});
  const StoreRequest decoded = round_trip<StoreRequest>(encode_store_request(request));
  EXPECT_EQ(decoded, request);
  ASSERT_EQ(decoded.items.size(), 5u);
  EXPECT_TRUE(decoded.items[2].subkey.has_value());  // an empty subkey is not an absent one
  EXPECT_TRUE(decoded.items[4].key_name.has_value());  // nor an empty key name
}

TEST(DhtProtocolTest, StoreRequestRoundTripsWithoutSenderOrItems) {
  const StoreRequest request;
  EXPECT_EQ(round_trip<StoreRequest>(encode_store_request(request)), request);
}

TEST(DhtProtocolTest, StoreResponseRoundTripsEveryOutcome) {
  const StoreResponse response{{StoreItemOutcome::kStored, StoreItemOutcome::kAlreadyExpired,
                                StoreItemOutcome::kNotNewer, StoreItemOutcome::kRefused}};
  EXPECT_EQ(round_trip<StoreResponse>(encode_store_response(response)), response);
}

TEST(DhtProtocolTest, FindRequestRoundTripsKeysAndSender) {
  const FindRequest request{node(4, "127.0.0.1:1"), {id(20), id(21), id(22)}};
  EXPECT_EQ(round_trip<FindRequest>(encode_find_request(request)), request);
}

TEST(DhtProtocolTest, FindResponseRoundTripsAbsentPlainAndDictionaryRecords) {
  FindResponse response;
  response.records.push_back(FoundRecord{id(30), std::nullopt, {node(5, "10.0.0.5:5000")}});
  response.records.push_back(
      FoundRecord{id(31), Record{bytes("plain value"), kNow + 60'000},
                  {node(6, "10.0.0.6:5000"), node(7, "[2001:db8::7]:5000")}});
  Dictionary dictionary;
  dictionary[bytes("a")] = TimedValue{bytes("first"), kNow + 10};
  dictionary[bytes("b")] = TimedValue{Bytes{}, kNow + 30};
  response.records.push_back(FoundRecord{id(32), Record{dictionary, kNow + 30}, {}});
  EXPECT_EQ(round_trip<FindResponse>(encode_find_response(response)), response);
}

TEST(DhtProtocolTest, FindResponseRoundTripsSignaturesAndOwners) {
  FindResponse response;
  response.records.push_back(FoundRecord{
      id(33), Record{bytes("owned value"), kNow + 100, signature(0xAB), public_key(0xCD)}, {}});
  response.records.push_back(
      FoundRecord{id(34), Record{bytes("signed, unowned key"), kNow + 100, signature(0x01)}, {}});
  Dictionary dictionary;
  dictionary[bytes("a")] = TimedValue{bytes("signed"), kNow + 10, signature(0x02)};
  dictionary[bytes("b")] = TimedValue{bytes("unsigned"), kNow + 30};
  response.records.push_back(FoundRecord{
      id(35), Record{dictionary, kNow + 30, std::nullopt, public_key(0x03)}, {}});
  EXPECT_EQ(round_trip<FindResponse>(encode_find_response(response)), response);
}

TEST(DhtProtocolTest, FindResponseWithFourHundredSubkeysRoundTrips) {
  std::mt19937 random(400);
  Dictionary dictionary;
  DhtTime latest = 0;
  for (int i = 0; i < 400; ++i) {
    const DhtTime expiration = kNow + static_cast<DhtTime>(random() % 100'000);
    latest = std::max(latest, expiration);
    dictionary[bytes("expert." + std::to_string(i))] =
        TimedValue{random_bytes(random, random() % 64), expiration};
  }
  FindResponse response;
  response.records.push_back(FoundRecord{id(40), Record{dictionary, latest},
                                         {node(8, "10.0.0.8:8000")}});
  const FindResponse decoded = round_trip<FindResponse>(encode_find_response(response));
  EXPECT_EQ(decoded, response);
  ASSERT_EQ(decoded.records.size(), 1u);
  ASSERT_TRUE(decoded.records[0].record.has_value());
  EXPECT_EQ(decoded.records[0].record->dictionary().size(), 400u);
}

TEST(DhtProtocolTest, EncodeMessageMatchesTheTypedEncoder) {
  const FindRequest request{std::nullopt, {id(1)}};
  EXPECT_EQ(encode_message(DhtMessage(request)), encode_find_request(request));
}

// ---- Rejections ----

TEST(DhtProtocolTest, DecodeAsRejectsAnotherKindOfMessage) {
  net::Result<PingResponse> decoded = decode_as<PingResponse>(encode_ping_request(PingRequest{}));
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), net::StatusCode::kProtocolError);
  EXPECT_EQ(decoded.status().message(), "expected a ping response, got a ping request");
}

TEST(DhtProtocolTest, WrongFileIdentifierIsRejected) {
  flatbuffers::FlatBufferBuilder builder;
  const Bytes encoded = finish(builder, wire::Body::PingRequest,
                               wire::CreatePingRequest(builder).Union(), "HIV1");
  expect_protocol_error(encoded, "file identifier HDT1");
}

TEST(DhtProtocolTest, RandomBytesAreRejected) {
  std::mt19937 random(1234);
  for (int trial = 0; trial < 1000; ++trial) {
    const Bytes garbage = random_bytes(random, 1 + random() % 512);
    EXPECT_FALSE(decode_message(garbage).is_ok()) << "trial " << trial;
  }
}

TEST(DhtProtocolTest, RandomBytesBehindTheIdentifierAreRejected) {
  std::mt19937 random(5678);
  for (int trial = 0; trial < 1000; ++trial) {
    Bytes garbage = random_bytes(random, 8 + random() % 512);
    const Bytes identifier = bytes("HDT1");
    std::copy(identifier.begin(), identifier.end(), garbage.begin() + 4);
    EXPECT_FALSE(decode_message(garbage).is_ok()) << "trial " << trial;
  }
}

TEST(DhtProtocolTest, EveryTruncationOfAValidMessageIsRejected) {
  StoreRequest request;
  request.sender = node(3, "10.0.0.3:3000");
  request.items.push_back(StoreItem{id(10), bytes("s"), bytes("value"), kNow, signature(1)});
  const Bytes encoded = encode_store_request(request);
  ASSERT_TRUE(decode_message(encoded).is_ok());
  for (size_t size = 0; size < encoded.size(); ++size) {
    EXPECT_FALSE(decode_message(std::span(encoded).first(size)).is_ok()) << "size " << size;
  }
}

TEST(DhtProtocolTest, MisalignedBufferStillDecodes) {
  const PingResponse response{node(2, "10.0.0.2:2000"), kNow};
  const Bytes encoded = encode_ping_response(response);
  Bytes shifted(encoded.size() + 1);
  std::copy(encoded.begin(), encoded.end(), shifted.begin() + 1);
  net::Result<PingResponse> decoded = decode_as<PingResponse>(std::span(shifted).subspan(1));
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded.value(), response);
}

TEST(DhtProtocolTest, NineteenByteIdIsRejected) {
  expect_protocol_error(raw_ping_request(raw_id(19), raw_address()),
                        "ping request: sender id of 19 bytes, expected 20");
}

TEST(DhtProtocolTest, RawAddressDecodesAsIpAndPort) {
  net::Result<PingRequest> decoded =
      decode_as<PingRequest>(raw_ping_request(raw_id(kIdBytes), raw_address()));
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  ASSERT_TRUE(decoded.value().sender.has_value());
  EXPECT_EQ(decoded.value().sender->address.to_string(), "10.0.0.1:4000");
}

TEST(DhtProtocolTest, UnknownAddressFamilyIsRejected) {
  expect_protocol_error(
      raw_ping_request(raw_id(kIdBytes), raw_address(static_cast<wire::AddressFamily>(5))),
      "ping request: sender: address family 5, expected 4 (IPv4) or 6 (IPv6)");
  expect_protocol_error(raw_ping_request(raw_id(kIdBytes), raw_address(wire::AddressFamily::Unset)),
                        "ping request: sender: address family 0");
}

TEST(DhtProtocolTest, Ipv4AddressWithBytesPastItsFourIsRejected) {
  expect_protocol_error(
      raw_ping_request(raw_id(kIdBytes), raw_address(wire::AddressFamily::IPv4, 1)),
      "ping request: sender: IPv4 address with non-zero bytes past its first 4");
}

TEST(DhtProtocolTest, NodeWithoutAddressIsRejected) {
  flatbuffers::FlatBufferBuilder builder;
  const RawBytes sender_id = raw_id(kIdBytes);
  auto sender = wire::CreateNodeInfoDirect(builder, &sender_id, nullptr);
  expect_protocol_error(
      finish(builder, wire::Body::PingRequest, wire::CreatePingRequest(builder, sender).Union()),
      "ping request: sender has no address");
}

TEST(DhtProtocolTest, SixtyThreeByteSignatureIsRejected) {
  const RawBytes short_signature(63, 0x11);
  expect_protocol_error(raw_store_request(&short_signature),
                        "store request: item 0 signature of 63 bytes, expected 64 or none");
  const RawBytes good_signature(64, 0x11);
  EXPECT_TRUE(decode_message(raw_store_request(&good_signature)).is_ok());
}

TEST(DhtProtocolTest, KeyNameAboveTheLimitIsRejected) {
  const RawBytes long_name(MessageLimits{}.max_key_name_bytes + 1, 'k');
  expect_protocol_error(raw_store_request(nullptr, &long_name),
                        "store request: item 0 key name of 1025 bytes, limit 1024");
  const RawBytes longest_name(MessageLimits{}.max_key_name_bytes, 'k');
  EXPECT_TRUE(decode_message(raw_store_request(nullptr, &longest_name)).is_ok());
}

TEST(DhtProtocolTest, ThirtyOneByteOwnerKeyIsRejected) {
  const RawBytes short_owner(31, 0x22);
  expect_protocol_error(raw_find_response(wire::RecordKind::Plain, nullptr, nullptr, &short_owner),
                        "find response: record 0 owner key of 31 bytes, expected 32 or none");
  const RawBytes good_owner(32, 0x22);
  EXPECT_TRUE(
      decode_message(raw_find_response(wire::RecordKind::Plain, nullptr, nullptr, &good_owner))
          .is_ok());
}

TEST(DhtProtocolTest, SixtyFiveByteSignaturesInFoundRecordsAreRejected) {
  const RawBytes long_signature(65, 0x11);
  expect_protocol_error(
      raw_find_response(wire::RecordKind::Plain, &long_signature, nullptr, nullptr),
      "find response: record 0 signature of 65 bytes, expected 64 or none");
  expect_protocol_error(
      raw_find_response(wire::RecordKind::Dictionary, nullptr, &long_signature, nullptr),
      "find response: record 0 subkey 0 signature of 65 bytes, expected 64 or none");
}

TEST(DhtProtocolTest, PlainSignatureOnADictionaryIsRejected) {
  const RawBytes good_signature(64, 0x11);
  expect_protocol_error(
      raw_find_response(wire::RecordKind::Dictionary, &good_signature, nullptr, nullptr),
      "find response: record 0: a dictionary record carries a plain value's signature");
  EXPECT_TRUE(decode_message(raw_find_response(wire::RecordKind::Dictionary, nullptr,
                                               &good_signature, nullptr))
                  .is_ok());
}

TEST(DhtProtocolTest, AbsentRecordWithAnOwnerIsRejected) {
  const RawBytes owner(32, 0x22);
  expect_protocol_error(raw_find_response(wire::RecordKind::Absent, nullptr, nullptr, &owner),
                        "find response: record 0: an absent record carries a value, signature or"
                        " owner");
}

TEST(DhtProtocolTest, MoreKeysThanTheLimitAreRejected) {
  FindRequest request;
  request.keys.assign(MessageLimits{}.max_items + 1, id(1));
  expect_protocol_error(encode_find_request(request), "1025 find request keys, limit 1024");
  request.keys.pop_back();
  EXPECT_TRUE(decode_message(encode_find_request(request)).is_ok());
}

TEST(DhtProtocolTest, OutOfRangeOutcomeIsRejected) {
  const StoreResponse response{{StoreItemOutcome::kStored, static_cast<StoreItemOutcome>(4)}};
  expect_protocol_error(encode_store_response(response),
                        "store response: outcome 1 is 4, expected 0..3");
}

TEST(DhtProtocolTest, UnknownBodyKindIsRejected) {
  flatbuffers::FlatBufferBuilder builder;
  const Bytes encoded = finish(builder, static_cast<wire::Body>(9),
                               wire::CreatePingRequest(builder).Union());
  expect_protocol_error(encoded, "unknown kind 9");
}

TEST(DhtProtocolTest, DictionaryWithUnsortedSubkeysIsRejected) {
  flatbuffers::FlatBufferBuilder builder;
  const RawBytes key = raw_id(kIdBytes);
  const RawBytes b = {'b'};
  const RawBytes a = {'a'};
  std::vector<flatbuffers::Offset<wire::SubkeyValue>> subkeys = {
      wire::CreateSubkeyValueDirect(builder, &b, nullptr, kNow),
      wire::CreateSubkeyValueDirect(builder, &a, nullptr, kNow)};
  std::vector<flatbuffers::Offset<wire::FoundRecord>> records = {wire::CreateFoundRecordDirect(
      builder, &key, wire::RecordKind::Dictionary, nullptr, &subkeys, kNow, nullptr)};
  const Bytes encoded = finish(builder, wire::Body::FindResponse,
                               wire::CreateFindResponseDirect(builder, &records).Union());
  expect_protocol_error(encoded, "find response: record 0 subkey 1 does not follow");
}

TEST(DhtProtocolTest, SharedRecordTablesAreRejected) {
  // One record with a 1000-byte value, referenced 1024 times, would decode to 1 MB from a 5 KB
  // buffer: the byte budget refuses it.
  flatbuffers::FlatBufferBuilder builder;
  const RawBytes key = raw_id(kIdBytes);
  const RawBytes value(1000, 0x33);
  const auto shared = wire::CreateFoundRecordDirect(builder, &key, wire::RecordKind::Plain,
                                                    &value, nullptr, kNow, nullptr);
  std::vector<flatbuffers::Offset<wire::FoundRecord>> records(MessageLimits{}.max_items, shared);
  const Bytes encoded = finish(builder, wire::Body::FindResponse,
                               wire::CreateFindResponseDirect(builder, &records).Union());
  expect_protocol_error(encoded, "(fields share bytes)");
}

}  // namespace
}  // namespace hive::dht
