// Frames: every header field survives encode/decode; the writer's frames, read back whole, byte
// by byte, in random pieces and through read_buffer()/commit_read(), give the same messages with
// the same bytes; and every malformed frame a peer could send is rejected with its code and a
// message that names the offending value.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/codec/tensor_codec.h"
#include "net/schema/frame_generated.h"
#include "net/wire/frame.h"
#include "net/wire/frame_reader.h"
#include "net/wire/frame_writer.h"
#include "net/wire/message.h"

namespace hive::net {
namespace {

using Bytes = std::vector<std::byte>;

// ---------------------------------------------------------------------------------------------
// Helpers

uint32_t load_u32(const Bytes& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 4; i-- > 0;) value = (value << 8) | static_cast<uint32_t>(bytes[at + i]);
  return value;
}

void store_u32(Bytes& bytes, size_t at, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}

void expect_error(const Status& status, StatusCode code, std::string_view needle) {
  EXPECT_EQ(status.code(), code) << status.to_string();
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << "message \"" << status.message() << "\" does not name \"" << needle << "\"";
}

// The header bytes inside an encoded prefix.
std::span<const std::byte> header_of(const Bytes& prefix) {
  return std::span(prefix).subspan(kFramePrefixBytes, load_u32(prefix, 4));
}

Result<FrameHeader> round_trip(const FrameHeader& header, const FrameLimits& limits = {}) {
  const Bytes prefix = encode_frame_prefix(header, 0);
  return decode_frame_header(header_of(prefix), limits);
}

// A whole frame: `header` followed by `chunk_bytes` bytes of `fill`.
Bytes frame_with_chunk(const FrameHeader& header, size_t chunk_bytes,
                       std::byte fill = std::byte{0x5A}) {
  Bytes bytes = encode_frame_prefix(header, chunk_bytes);
  bytes.resize(bytes.size() + chunk_bytes, fill);
  return bytes;
}

// A whole frame around header bytes built by hand (a FlatBuffer the encoder would never write).
Bytes frame_around(const Bytes& header, size_t chunk_bytes = 0) {
  const auto header_length = static_cast<uint32_t>(header.size());
  const uint64_t start = chunk_start(header_length);
  Bytes bytes(start + chunk_bytes, std::byte{0});
  store_u32(bytes, 0, static_cast<uint32_t>(start - 4 + chunk_bytes));
  store_u32(bytes, 4, header_length);
  std::memcpy(bytes.data() + kFramePrefixBytes, header.data(), header.size());
  return bytes;
}

// The finished FlatBuffer, copied so that it starts 8-byte aligned as in a receive buffer.
Bytes finished(const flatbuffers::FlatBufferBuilder& builder) {
  const auto* data = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return Bytes(data, data + builder.GetSize());
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const Bytes& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

FrameHeader request_header(uint64_t call_id, uint64_t payload_length) {
  FrameHeader header;
  header.kind = FrameKind::kRequest;
  header.call_id = call_id;
  header.method = "echo";
  header.payload_length = payload_length;
  return header;
}

FrameHeader continuation_header(FrameKind continues, uint64_t call_id, uint64_t chunk_offset) {
  FrameHeader header;
  header.kind = FrameKind::kContinuation;
  header.continues = continues;
  header.call_id = call_id;
  header.chunk_offset = chunk_offset;
  return header;
}

TensorLayout layout_of(WireDType dtype, std::vector<int64_t> shape, Compression compression,
                       uint64_t offset) {
  TensorLayout layout{TensorDescriptor{dtype, std::move(shape)}, compression, offset, 0};
  auto size = encoded_size(layout.descriptor, compression);
  EXPECT_TRUE(size.is_ok()) << size.status().to_string();
  if (size.is_ok()) layout.length = size.value();
  return layout;
}

// A request whose only tensor is `layout` inside a payload of `payload_length` bytes.
FrameHeader request_with_tensor(TensorLayout layout, uint64_t payload_length) {
  FrameHeader header = request_header(1, payload_length);
  header.tensors.push_back(std::move(layout));
  return header;
}

void expect_same_layouts(const std::vector<TensorLayout>& actual,
                         const std::vector<TensorLayout>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(actual[i].descriptor.dtype, expected[i].descriptor.dtype);
    EXPECT_EQ(actual[i].descriptor.shape, expected[i].descriptor.shape);
    EXPECT_EQ(actual[i].compression, expected[i].compression);
    EXPECT_EQ(actual[i].offset, expected[i].offset);
    EXPECT_EQ(actual[i].length, expected[i].length);
  }
}

void expect_same_header(const FrameHeader& actual, const FrameHeader& expected) {
  EXPECT_EQ(actual.kind, expected.kind);
  EXPECT_EQ(actual.call_id, expected.call_id);
  EXPECT_EQ(actual.method, expected.method);
  EXPECT_EQ(actual.status_code, expected.status_code);
  EXPECT_EQ(actual.status_message, expected.status_message);
  EXPECT_EQ(actual.timeout_ms, expected.timeout_ms);
  EXPECT_EQ(actual.metadata, expected.metadata);
  expect_same_layouts(actual.tensors, expected.tensors);
  EXPECT_EQ(actual.payload_length, expected.payload_length);
  EXPECT_EQ(actual.chunk_offset, expected.chunk_offset);
  EXPECT_EQ(actual.continues, expected.continues);
  ASSERT_EQ(actual.hello.has_value(), expected.hello.has_value());
  if (expected.hello) {
    EXPECT_EQ(actual.hello->protocol_version, expected.hello->protocol_version);
    EXPECT_EQ(actual.hello->public_key, expected.hello->public_key);
    EXPECT_EQ(actual.hello->nonce, expected.hello->nonce);
  }
  EXPECT_EQ(actual.proof, expected.proof);
}

Bytes counting_bytes(size_t count, uint8_t first) {
  Bytes bytes(count);
  for (size_t i = 0; i < count; ++i) bytes[i] = static_cast<std::byte>(first + i);
  return bytes;
}

template <size_t N>
std::array<std::byte, N> counting_array(uint8_t first) {
  std::array<std::byte, N> bytes;
  for (size_t i = 0; i < N; ++i) bytes[i] = static_cast<std::byte>(first + i);
  return bytes;
}

struct Received {
  FrameHeader header;
  Message message;
};

class RecordingSink final : public FrameReader::Sink {
 public:
  void on_message(FrameHeader header, Message message) override {
    messages.push_back(Received{std::move(header), std::move(message)});
  }
  void on_control(FrameHeader header) override { controls.push_back(std::move(header)); }

  std::vector<Received> messages;
  std::vector<FrameHeader> controls;
};

Status feed(const Bytes& bytes, const FrameLimits& limits = {}) {
  FrameReader reader(limits);
  RecordingSink sink;
  return reader.consume(bytes, sink);
}

// ---------------------------------------------------------------------------------------------
// Header round trips

TEST(FrameHeaderTest, PrefixStatesFrameAndHeaderLengthsAndPadsToSixtyFourBytes) {
  FrameHeader header = request_header(7, 1000);
  const Bytes prefix = encode_frame_prefix(header, 1000);
  ASSERT_EQ(prefix.size() % kSegmentAlignment, 0u);
  const uint32_t header_length = load_u32(prefix, 4);
  EXPECT_EQ(prefix.size(), chunk_start(header_length));
  EXPECT_EQ(load_u32(prefix, 0), prefix.size() - 4 + 1000);
  for (size_t i = kFramePrefixBytes + header_length; i < prefix.size(); ++i) {
    EXPECT_EQ(prefix[i], std::byte{0}) << "padding byte " << i;
  }
  EXPECT_EQ(std::memcmp(prefix.data() + kFramePrefixBytes + 4, "HIV1", 4), 0);
}

TEST(FrameHeaderTest, RequestRoundTripsMethodMetadataTimeoutAndTensors) {
  FrameHeader header;
  header.kind = FrameKind::kRequest;
  header.call_id = 0xFEDCBA9876543210ull;
  header.method = "ffn.3.17.forward";
  header.timeout_ms = 2500;
  header.metadata = counting_bytes(300, 11);
  header.tensors.push_back(layout_of(WireDType::kF32, {3, 5}, Compression::kNone, 0));
  header.tensors.push_back(layout_of(WireDType::kF32, {4097}, Compression::kBlockwise8Bit, 64));
  header.tensors.push_back(layout_of(WireDType::kF32, {7}, Compression::kFloat16, 4224));
  header.tensors.push_back(layout_of(WireDType::kI64, {2, 0, 9}, Compression::kNone, 4288));
  header.tensors.push_back(layout_of(WireDType::kBF16, {2, 2}, Compression::kUniform8Bit, 4288));
  header.tensors.push_back(layout_of(WireDType::kU8, {1}, Compression::kNone, 4352));
  header.payload_length = 4353;
  ASSERT_EQ(header.tensors[1].length, 2 * 4 + 4097u);

  auto decoded = round_trip(header);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  expect_same_header(decoded.value(), header);
}

TEST(FrameHeaderTest, ResponseRoundTripsStatusCodeAndMessage) {
  FrameHeader header;
  header.kind = FrameKind::kResponse;
  header.call_id = 42;
  header.status_code = static_cast<int32_t>(StatusCode::kDeadlineExceeded);
  header.status_message = "no answer within 100 ms";
  header.metadata = counting_bytes(5, 200);
  header.tensors.push_back(layout_of(WireDType::kI32, {4}, Compression::kNone, 0));
  header.payload_length = 16;

  auto decoded = round_trip(header);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  expect_same_header(decoded.value(), header);
}

TEST(FrameHeaderTest, HelloRoundTripsVersionKeyAndNonce) {
  FrameHeader header;
  header.kind = FrameKind::kHello;
  header.hello = HelloFields{kProtocolVersion, counting_array<kPublicKeyBytes>(1),
                             counting_array<kNonceBytes>(100)};

  auto decoded = round_trip(header);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  expect_same_header(decoded.value(), header);
}

TEST(FrameHeaderTest, ProofRoundTripsSignature) {
  FrameHeader header;
  header.kind = FrameKind::kProof;
  header.proof = counting_array<kSignatureBytes>(33);

  auto decoded = round_trip(header);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  expect_same_header(decoded.value(), header);
}

TEST(FrameHeaderTest, CancelRoundTripsCallId) {
  FrameHeader header;
  header.kind = FrameKind::kCancel;
  header.call_id = UINT64_MAX;

  auto decoded = round_trip(header);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  expect_same_header(decoded.value(), header);
}

TEST(FrameHeaderTest, ContinuationRoundTripsCallIdOffsetAndContinuedKind) {
  const FrameHeader header = continuation_header(FrameKind::kResponse, 99, 4096);

  auto decoded = round_trip(header);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  expect_same_header(decoded.value(), header);
}

TEST(FrameHeaderTest, ShapeDimensionsPlacedMisalignedByThePeerDecode) {
  // The Verifier checks a vector's length field for 4-byte alignment only, so a peer can put the
  // 8-byte dimensions of a shape 4 bytes past an 8-byte boundary (found by frame_fuzzer).
  flatbuffers::FlatBufferBuilder builder;
  const int64_t dims[2] = {3, 5};
  builder.Align(8);
  builder.PushElement<uint32_t>(0);  // the dimensions now end 4 bytes past an 8-byte boundary
  builder.StartVector(sizeof(dims), 1);
  builder.PushBytes(reinterpret_cast<const uint8_t*>(dims), sizeof(dims));
  const flatbuffers::Offset<flatbuffers::Vector<int64_t>> shape(builder.EndVector(2));
  const auto tensor =
      wire::CreateTensorDesc(builder, wire::DType::F32, shape, wire::Compression::None, 0, 60);
  const auto tensors = builder.CreateVector(&tensor, 1);
  const auto method = builder.CreateString("echo");
  wire::HeaderBuilder table(builder);
  table.add_kind(wire::FrameKind::Request);
  table.add_method(method);
  table.add_tensors(tensors);
  table.add_payload_length(64);
  builder.Finish(table.Finish(), wire::HeaderIdentifier());
  const Bytes header = finished(builder);
  const auto* shape_bytes = wire::GetHeader(header.data())->tensors()->Get(0)->shape()->Data();
  ASSERT_EQ(reinterpret_cast<uintptr_t>(shape_bytes) % 8, 4u) << "the test lost its misalignment";

  auto decoded = decode_frame_header(header, {});
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  ASSERT_EQ(decoded.value().tensors.size(), 1u);
  EXPECT_EQ(decoded.value().tensors[0].descriptor.shape, (std::vector<int64_t>{3, 5}));
}

// ---------------------------------------------------------------------------------------------
// FrameWriter -> FrameReader

std::vector<float> standard_normal(size_t count, std::mt19937& random) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = normal(random);
  return values;
}

// A tensor of random content: f32 sources are finite (the 8-bit codecs need that), other
// dtypes are random bytes sent with kNone.
WireTensor random_tensor(WireDType dtype, std::vector<int64_t> shape, Compression compression,
                         std::mt19937& random) {
  TensorDescriptor descriptor{dtype, std::move(shape)};
  const uint64_t raw_size = descriptor.raw_size().value();
  Bytes raw(raw_size);
  if (dtype == WireDType::kF32) {
    const std::vector<float> values = standard_normal(raw_size / sizeof(float), random);
    if (raw_size > 0) std::memcpy(raw.data(), values.data(), raw_size);
  } else {
    std::uniform_int_distribution<int> byte(0, 255);
    for (std::byte& value : raw) value = static_cast<std::byte>(byte(random));
  }
  auto tensor = copy_wire_tensor(std::move(descriptor), raw, compression);
  EXPECT_TRUE(tensor.is_ok()) << tensor.status().to_string();
  return std::move(tensor).value();
}

struct Outgoing {
  FrameHeader header;
  Message message;
};

// Requests and responses of assorted shapes: empty tensors, a 0-byte payload, tensors whose
// sizes are not multiples of 64, a payload above 16 KiB (read directly into the payload buffer
// when it arrives in one chunk), and compressed tensors.
std::vector<Outgoing> assorted_messages() {
  std::mt19937 random(20240611);
  std::vector<Outgoing> messages;
  auto add = [&](FrameKind kind, uint64_t call_id, std::string method, size_t metadata_bytes,
                 std::vector<WireTensor> tensors) {
    Outgoing outgoing;
    outgoing.header.kind = kind;
    outgoing.header.call_id = call_id;
    outgoing.header.method = std::move(method);
    outgoing.header.timeout_ms = kind == FrameKind::kRequest ? 1000 : 0;
    if (kind == FrameKind::kResponse) {
      outgoing.header.status_code = static_cast<int32_t>(StatusCode::kOk);
      outgoing.header.status_message = "done";
    }
    outgoing.message.metadata = counting_bytes(metadata_bytes, static_cast<uint8_t>(call_id));
    outgoing.message.tensors = std::move(tensors);
    messages.push_back(std::move(outgoing));
  };
  add(FrameKind::kRequest, 1, "ffn.0.0.forward", 17,
      {random_tensor(WireDType::kF32, {0}, Compression::kNone, random),
       random_tensor(WireDType::kU8, {1}, Compression::kNone, random),
       random_tensor(WireDType::kF32, {17}, Compression::kNone, random),
       random_tensor(WireDType::kI64, {3, 5}, Compression::kNone, random),
       random_tensor(WireDType::kU8, {1000}, Compression::kNone, random),
       random_tensor(WireDType::kF16, {33}, Compression::kNone, random)});
  add(FrameKind::kResponse, 1, "", 9, {});
  add(FrameKind::kRequest, 2, "ffn.0.1.forward", 0,
      {random_tensor(WireDType::kU8, {40000}, Compression::kNone, random),
       random_tensor(WireDType::kF32, {10000}, Compression::kBlockwise8Bit, random),
       random_tensor(WireDType::kF32, {0, 4}, Compression::kNone, random)});
  add(FrameKind::kRequest, 3, "nop", 3,
      {random_tensor(WireDType::kF32, {0}, Compression::kNone, random),
       random_tensor(WireDType::kI32, {2, 0, 3}, Compression::kNone, random)});
  add(FrameKind::kResponse, 2, "", 0,
      {random_tensor(WireDType::kF32, {301}, Compression::kBFloat16, random),
       random_tensor(WireDType::kF32, {129}, Compression::kUniform8Bit, random),
       random_tensor(WireDType::kBF16, {5, 7}, Compression::kNone, random)});
  add(FrameKind::kRequest, 4, "transformer.2.forward", 500,
      {random_tensor(WireDType::kF32, {3, 1000}, Compression::kFloat16, random),
       random_tensor(WireDType::kU8, {0}, Compression::kNone, random)});
  return messages;
}

// Every frame the writer produces for `messages` (plus one cancel), as one byte stream.
Bytes write_stream(const std::vector<Outgoing>& messages, uint64_t chunk_bytes, size_t* frames) {
  FrameWriter writer(WriterLimits{chunk_bytes, 1ull << 30});
  for (const Outgoing& outgoing : messages) {
    Status status = writer.enqueue(outgoing.header, outgoing.message);
    EXPECT_TRUE(status.is_ok()) << status.to_string();
  }
  FrameHeader cancel;
  cancel.kind = FrameKind::kCancel;
  cancel.call_id = 77;
  writer.enqueue_control(cancel);
  Bytes stream;
  *frames = 0;
  while (auto frame = writer.next_frame()) {
    ++*frames;
    uint64_t frame_bytes = 0;
    for (std::span<const std::byte> piece : frame->pieces) {
      stream.insert(stream.end(), piece.begin(), piece.end());
      frame_bytes += piece.size();
    }
    EXPECT_EQ(frame_bytes, frame->bytes);
  }
  EXPECT_TRUE(writer.empty());
  EXPECT_EQ(writer.queued_bytes(), 0u);
  return stream;
}

struct ReadResult {
  std::vector<Received> messages;
  std::vector<FrameHeader> controls;
  size_t direct_reads = 0;  // read_buffer() spans that pointed into a payload buffer
};

FrameLimits stream_limits() {
  FrameLimits limits;
  limits.max_frame_bytes = 2ull << 20;
  limits.max_message_bytes = 8ull << 20;
  return limits;
}

ReadResult finish(FrameReader& reader, RecordingSink& sink) {
  EXPECT_FALSE(reader.mid_message());
  EXPECT_EQ(reader.pending_receive_bytes(), 0u);
  return ReadResult{std::move(sink.messages), std::move(sink.controls), 0};
}

ReadResult read_at_once(const Bytes& stream) {
  FrameReader reader(stream_limits());
  RecordingSink sink;
  Status status = reader.consume(stream, sink);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
  return finish(reader, sink);
}

ReadResult read_byte_by_byte(const Bytes& stream) {
  FrameReader reader(stream_limits());
  RecordingSink sink;
  for (size_t i = 0; i < stream.size(); ++i) {
    Status status = reader.consume(std::span(stream).subspan(i, 1), sink);
    if (!status.is_ok()) {
      ADD_FAILURE() << "at byte " << i << ": " << status.to_string();
      break;
    }
  }
  return finish(reader, sink);
}

ReadResult read_in_random_pieces(const Bytes& stream, uint32_t seed) {
  FrameReader reader(stream_limits());
  RecordingSink sink;
  std::mt19937 random(seed);
  std::uniform_int_distribution<size_t> piece(1, 3000);
  for (size_t position = 0; position < stream.size();) {
    const size_t take = std::min(piece(random), stream.size() - position);
    Status status = reader.consume(std::span(stream).subspan(position, take), sink);
    if (!status.is_ok()) {
      ADD_FAILURE() << "at byte " << position << ": " << status.to_string();
      break;
    }
    position += take;
  }
  return finish(reader, sink);
}

// As a socket would: copy each piece into read_buffer(), then commit_read().
ReadResult read_through_read_buffer(const Bytes& stream, uint32_t seed) {
  FrameReader reader(stream_limits());
  RecordingSink sink;
  std::mt19937 random(seed);
  std::uniform_int_distribution<size_t> piece(1, 20000);
  size_t direct_reads = 0;
  for (size_t position = 0; position < stream.size();) {
    std::span<std::byte> buffer = reader.read_buffer();
    const bool staging = buffer.size() == 64 * 1024;
    if (!staging) ++direct_reads;
    const size_t take = std::min({buffer.size(), piece(random), stream.size() - position});
    std::memcpy(buffer.data(), stream.data() + position, take);
    Status status = reader.commit_read(take, sink);
    if (!status.is_ok()) {
      ADD_FAILURE() << "at byte " << position << ": " << status.to_string();
      break;
    }
    position += take;
  }
  ReadResult result = finish(reader, sink);
  result.direct_reads = direct_reads;
  return result;
}

void expect_same_reads(const ReadResult& actual, const ReadResult& expected) {
  ASSERT_EQ(actual.messages.size(), expected.messages.size());
  for (size_t i = 0; i < actual.messages.size(); ++i) {
    SCOPED_TRACE(i);
    const Received& a = actual.messages[i];
    const Received& e = expected.messages[i];
    expect_same_header(a.header, e.header);
    EXPECT_EQ(a.message.metadata, e.message.metadata);
    ASSERT_EQ(a.message.tensors.size(), e.message.tensors.size());
    for (size_t t = 0; t < a.message.tensors.size(); ++t) {
      const WireTensor& at = a.message.tensors[t];
      const WireTensor& et = e.message.tensors[t];
      EXPECT_EQ(at.descriptor.dtype, et.descriptor.dtype);
      EXPECT_EQ(at.descriptor.shape, et.descriptor.shape);
      EXPECT_EQ(at.compression, et.compression);
      ASSERT_EQ(at.bytes.size(), et.bytes.size());
      EXPECT_TRUE(std::equal(at.bytes.begin(), at.bytes.end(), et.bytes.begin())) << "tensor " << t;
    }
  }
  ASSERT_EQ(actual.controls.size(), expected.controls.size());
  for (size_t i = 0; i < actual.controls.size(); ++i) {
    expect_same_header(actual.controls[i], expected.controls[i]);
  }
}

// Each received message equals the one sent with its kind and call id, tensor bytes included,
// and its tensors start on 64-byte boundaries.
void expect_sent_messages(const ReadResult& read, const std::vector<Outgoing>& sent) {
  std::map<std::pair<FrameKind, uint64_t>, const Outgoing*> by_key;
  for (const Outgoing& outgoing : sent) {
    by_key[{outgoing.header.kind, outgoing.header.call_id}] = &outgoing;
  }
  ASSERT_EQ(read.messages.size(), sent.size());
  for (const Received& received : read.messages) {
    const auto entry = by_key.find({received.header.kind, received.header.call_id});
    ASSERT_NE(entry, by_key.end()) << "unexpected call id " << received.header.call_id;
    const Outgoing& outgoing = *entry->second;
    by_key.erase(entry);
    SCOPED_TRACE(received.header.call_id);
    EXPECT_EQ(received.header.method, outgoing.header.method);
    EXPECT_EQ(received.header.status_code, outgoing.header.status_code);
    EXPECT_EQ(received.header.status_message, outgoing.header.status_message);
    EXPECT_EQ(received.header.timeout_ms, outgoing.header.timeout_ms);
    EXPECT_EQ(received.message.metadata, outgoing.message.metadata);
    ASSERT_EQ(received.message.tensors.size(), outgoing.message.tensors.size());
    for (size_t t = 0; t < received.message.tensors.size(); ++t) {
      SCOPED_TRACE(t);
      const WireTensor& got = received.message.tensors[t];
      const WireTensor& want = outgoing.message.tensors[t];
      EXPECT_EQ(got.descriptor.dtype, want.descriptor.dtype);
      EXPECT_EQ(got.descriptor.shape, want.descriptor.shape);
      EXPECT_EQ(got.compression, want.compression);
      ASSERT_EQ(got.bytes.size(), want.bytes.size());
      EXPECT_TRUE(std::equal(got.bytes.begin(), got.bytes.end(), want.bytes.begin()));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(got.bytes.data()) % kSegmentAlignment, 0u);
      EXPECT_TRUE(got.bytes.empty() || got.owner != nullptr) << "tensor bytes without an owner";
    }
  }
  ASSERT_EQ(read.controls.size(), 1u);
  EXPECT_EQ(read.controls[0].kind, FrameKind::kCancel);
  EXPECT_EQ(read.controls[0].call_id, 77u);
}

TEST(FrameStreamTest, EveryWayOfFeedingTheReaderYieldsTheSentMessages) {
  const std::vector<Outgoing> sent = assorted_messages();
  for (const uint64_t chunk_bytes : {uint64_t{100}, uint64_t{4096}, uint64_t{1} << 20}) {
    SCOPED_TRACE(chunk_bytes);
    size_t frames = 0;
    const Bytes stream = write_stream(sent, chunk_bytes, &frames);
    if (chunk_bytes < (1u << 20)) {
      EXPECT_GT(frames, 2 * sent.size()) << "messages should span frames";
    }

    const ReadResult at_once = read_at_once(stream);
    expect_sent_messages(at_once, sent);
    {
      SCOPED_TRACE("byte by byte");
      expect_same_reads(read_byte_by_byte(stream), at_once);
    }
    for (uint32_t seed : {1u, 2u, 3u}) {
      SCOPED_TRACE(seed);
      expect_same_reads(read_in_random_pieces(stream, seed), at_once);
      const ReadResult through_buffer = read_through_read_buffer(stream, seed);
      expect_same_reads(through_buffer, at_once);
      if (chunk_bytes == (1u << 20)) {
        EXPECT_GT(through_buffer.direct_reads, 0u) << "a 40 KB chunk should be read in place";
      }
    }
  }
}

TEST(FrameStreamTest, SmallChunksInterleaveMessagesSoShortOnesFinishFirst) {
  const std::vector<Outgoing> sent = assorted_messages();
  size_t frames = 0;
  const ReadResult read = read_at_once(write_stream(sent, 100, &frames));
  ASSERT_EQ(read.messages.size(), sent.size());
  // The 0-byte response (call 1) was queued second but completes before the 40 KB request.
  EXPECT_EQ(read.messages[0].header.kind, FrameKind::kResponse);
  EXPECT_EQ(read.messages[0].header.call_id, 1u);
  EXPECT_EQ(read.messages.back().header.call_id, 2u);
  EXPECT_EQ(read.messages.back().header.kind, FrameKind::kRequest);
}

// ---------------------------------------------------------------------------------------------
// Rejected prefixes

Bytes prefix_bytes(uint32_t frame_length, uint32_t header_length) {
  Bytes bytes(kFramePrefixBytes);
  store_u32(bytes, 0, frame_length);
  store_u32(bytes, 4, header_length);
  return bytes;
}

TEST(FrameRejectionTest, FrameAboveMaxFrameBytesIsTooLarge) {
  FrameLimits limits;
  limits.max_frame_bytes = 4096;
  expect_error(feed(prefix_bytes(5000, 64), limits), StatusCode::kTooLarge, "frame of 5004 bytes");
  expect_error(feed(prefix_bytes(UINT32_MAX, 64), limits), StatusCode::kTooLarge, "4294967299");
}

TEST(FrameRejectionTest, HeaderAboveMaxHeaderBytesIsTooLarge) {
  FrameLimits limits;
  limits.max_header_bytes = 512;
  expect_error(feed(prefix_bytes(1000, 600), limits), StatusCode::kTooLarge, "header of 600 bytes");
}

TEST(FrameRejectionTest, HeaderTooSmallOrLargerThanItsFrameIsProtocolError) {
  expect_error(feed(prefix_bytes(100, 4)), StatusCode::kProtocolError, "header of 4 bytes");
  expect_error(feed(prefix_bytes(100, 200)), StatusCode::kProtocolError, "header of 200 bytes");
  // 8 + 57 bytes round up to 128: a 124-byte frame cannot hold them.
  expect_error(feed(prefix_bytes(123, 57)), StatusCode::kProtocolError, "frame of 127 bytes");
}

// ---------------------------------------------------------------------------------------------
// Rejected headers

TEST(FrameRejectionTest, WrongFileIdentifierIsProtocolError) {
  Bytes prefix = encode_frame_prefix(request_header(1, 0), 0);
  std::memcpy(prefix.data() + kFramePrefixBytes + 4, "HIV2", 4);
  expect_error(decode_frame_header(header_of(prefix), {}).status(), StatusCode::kProtocolError,
               "HIV1");
  expect_error(feed(prefix), StatusCode::kProtocolError, "HIV1");
  expect_error(decode_frame_header(std::span(prefix).subspan(kFramePrefixBytes, 6), {}).status(),
               StatusCode::kProtocolError, "HIV1");
}

TEST(FrameRejectionTest, RandomHeaderBytesFailVerification) {
  FrameHeader header = request_header(5, 64);
  header.metadata = counting_bytes(40, 0);
  header.tensors.push_back(layout_of(WireDType::kF32, {16}, Compression::kNone, 0));
  const Bytes valid = encode_frame_prefix(header, 64);
  const std::span<const std::byte> valid_header = header_of(valid);
  std::mt19937 random(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 200; ++trial) {
    SCOPED_TRACE(trial);
    // The root offset and the identifier stay valid; everything after them is noise.
    Bytes noisy(valid_header.begin(), valid_header.end());
    for (size_t i = 8; i < noisy.size(); ++i) noisy[i] = static_cast<std::byte>(byte(random));
    auto decoded = decode_frame_header(noisy, {});
    ASSERT_FALSE(decoded.is_ok());
    expect_error(
        decoded.status(), StatusCode::kProtocolError,
        str_cat("frame header of ", noisy.size(), " bytes fails FlatBuffers verification"));
  }
}

TEST(FrameRejectionTest, TruncatedHeaderFailsVerification) {
  const Bytes prefix = encode_frame_prefix(request_header(5, 0), 0);
  const std::span<const std::byte> header = header_of(prefix);
  const Bytes truncated(header.begin(), header.end() - 8);
  expect_error(decode_frame_header(truncated, {}).status(), StatusCode::kProtocolError,
               "fails FlatBuffers verification");
}

TEST(FrameRejectionTest, TensorOutsideThePayloadIsProtocolError) {
  auto decoded =
      round_trip(request_with_tensor(layout_of(WireDType::kU8, {64}, Compression::kNone, 64), 100));
  expect_error(decoded.status(), StatusCode::kProtocolError,
               "[64, +64) outside the payload of 100 bytes");
  decoded =
      round_trip(request_with_tensor(layout_of(WireDType::kU8, {0}, Compression::kNone, 128), 100));
  expect_error(decoded.status(), StatusCode::kProtocolError,
               "[128, +0) outside the payload of 100");
  // An offset near 2^64 must not wrap around when added to the length.
  decoded = round_trip(request_with_tensor(
      layout_of(WireDType::kU8, {128}, Compression::kNone, UINT64_MAX - 63), 100));
  expect_error(decoded.status(), StatusCode::kProtocolError, "outside the payload");
}

TEST(FrameRejectionTest, UnalignedTensorOffsetIsProtocolError) {
  auto decoded =
      round_trip(request_with_tensor(layout_of(WireDType::kU8, {10}, Compression::kNone, 32), 100));
  expect_error(decoded.status(), StatusCode::kProtocolError, "offset 32 is unaligned");
}

TEST(FrameRejectionTest, OverlappingTensorsAreProtocolError) {
  FrameHeader header = request_header(1, 200);
  header.tensors.push_back(layout_of(WireDType::kU8, {100}, Compression::kNone, 0));
  header.tensors.push_back(layout_of(WireDType::kU8, {10}, Compression::kNone, 64));
  expect_error(round_trip(header).status(), StatusCode::kProtocolError,
               "tensor 1: offset 64 is unaligned or overlaps the previous tensor (ends at 100)");
}

TEST(FrameRejectionTest, TensorLengthThatDiffersFromItsEncodedSizeIsProtocolError) {
  TensorLayout layout = layout_of(WireDType::kF32, {4}, Compression::kNone, 0);
  layout.length = 15;
  expect_error(round_trip(request_with_tensor(layout, 64)).status(), StatusCode::kProtocolError,
               "needs 16 bytes, header says 15");
  layout = layout_of(WireDType::kF32, {5000}, Compression::kBlockwise8Bit, 0);
  layout.length = 5000;
  expect_error(round_trip(request_with_tensor(layout, 6000)).status(), StatusCode::kProtocolError,
               "needs 5008 bytes, header says 5000");
}

TEST(FrameRejectionTest, ShapeWhoseElementCountOverflowsIsProtocolError) {
  TensorLayout layout{TensorDescriptor{WireDType::kU8, {int64_t{1} << 40, int64_t{1} << 40}},
                      Compression::kNone, 0, 0};
  expect_error(round_trip(request_with_tensor(layout, 0)).status(), StatusCode::kProtocolError,
               "overflows 64 bits at axis 1 (dimension 1099511627776)");
  // The element count fits, its bytes do not.
  layout.descriptor = TensorDescriptor{WireDType::kF32, {int64_t{1} << 62}};
  expect_error(round_trip(request_with_tensor(layout, 0)).status(), StatusCode::kProtocolError,
               "4611686018427387904 f32 elements overflows 64 bits");
}

TEST(FrameRejectionTest, NegativeDimensionIsProtocolError) {
  TensorLayout layout{TensorDescriptor{WireDType::kF32, {3, -2}}, Compression::kNone, 0, 0};
  expect_error(round_trip(request_with_tensor(layout, 0)).status(), StatusCode::kProtocolError,
               "negative dimension -2 at axis 1");
}

TEST(FrameRejectionTest, RankAboveMaxRankIsProtocolError) {
  TensorLayout layout{TensorDescriptor{WireDType::kF32, std::vector<int64_t>(17, 1)},
                      Compression::kNone, 0, 4};
  expect_error(round_trip(request_with_tensor(layout, 64)).status(), StatusCode::kProtocolError,
               "rank 17 above the limit 16");
  FrameLimits limits;
  limits.max_rank = 2;
  layout.descriptor.shape = {1, 1, 1};
  expect_error(round_trip(request_with_tensor(layout, 64), limits).status(),
               StatusCode::kProtocolError, "rank 3 above the limit 2");
}

TEST(FrameRejectionTest, MoreTensorsThanMaxTensorsIsProtocolError) {
  FrameHeader header = request_header(1, 0);
  for (int i = 0; i < 3; ++i) {
    header.tensors.push_back(layout_of(WireDType::kU8, {0}, Compression::kNone, 0));
  }
  FrameLimits limits;
  limits.max_tensors = 2;
  expect_error(round_trip(header, limits).status(), StatusCode::kProtocolError,
               "3 tensors, limit 2");
}

TEST(FrameRejectionTest, UnknownDTypeIsProtocolError) {
  TensorLayout layout{TensorDescriptor{static_cast<WireDType>(6), {1}}, Compression::kNone, 0, 1};
  expect_error(round_trip(request_with_tensor(layout, 64)).status(), StatusCode::kProtocolError,
               "tensor 0: unknown dtype 6");
}

TEST(FrameRejectionTest, UnknownCompressionIsProtocolError) {
  TensorLayout layout{TensorDescriptor{WireDType::kF32, {1}}, static_cast<Compression>(5), 0, 4};
  expect_error(round_trip(request_with_tensor(layout, 64)).status(), StatusCode::kProtocolError,
               "tensor 0: unknown compression 5");
}

TEST(FrameRejectionTest, CompressionThatDoesNotApplyToTheDTypeIsProtocolError) {
  TensorLayout layout{TensorDescriptor{WireDType::kI32, {4}}, Compression::kFloat16, 0, 8};
  const Status status = round_trip(request_with_tensor(layout, 64)).status();
  expect_error(status, StatusCode::kProtocolError, "i32");
  expect_error(status, StatusCode::kProtocolError, "fp16");
}

TEST(FrameRejectionTest, UnknownFrameKindIsProtocolError) {
  // Built with FlatBuffers directly: the encoder only writes kinds that exist.
  flatbuffers::FlatBufferBuilder builder;
  wire::HeaderBuilder table(builder);
  table.add_kind(static_cast<wire::FrameKind>(6));
  table.add_call_id(3);
  builder.Finish(table.Finish(), wire::HeaderIdentifier());
  const Bytes header = finished(builder);
  expect_error(decode_frame_header(header, {}).status(), StatusCode::kProtocolError,
               "unknown frame kind 6");
  expect_error(feed(frame_around(header)), StatusCode::kProtocolError, "unknown frame kind 6");
}

TEST(FrameRejectionTest, ContinuationOfAKindWithoutPayloadIsProtocolError) {
  const FrameHeader header = continuation_header(FrameKind::kCancel, 1, 0);
  expect_error(round_trip(header).status(), StatusCode::kProtocolError,
               "continuation of a frame kind 3");
}

TEST(FrameRejectionTest, PayloadAboveMaxMessageBytesIsTooLarge) {
  FrameLimits limits;
  limits.max_message_bytes = 1000;
  EXPECT_TRUE(round_trip(request_header(1, 1000), limits).is_ok());
  expect_error(round_trip(request_header(1, 1001), limits).status(), StatusCode::kTooLarge,
               "payload of 1001 bytes, limit 1000");
  FrameHeader response = request_header(1, UINT64_MAX);
  response.kind = FrameKind::kResponse;
  expect_error(round_trip(response, limits).status(), StatusCode::kTooLarge,
               "18446744073709551615");
}

TEST(FrameRejectionTest, RequestWithoutMethodIsProtocolError) {
  FrameHeader header = request_header(1, 0);
  header.method.clear();
  expect_error(round_trip(header).status(), StatusCode::kProtocolError, "without a method");
}

TEST(FrameRejectionTest, FirstFrameAtNonzeroChunkOffsetIsProtocolError) {
  FrameHeader header = request_header(1, 100);
  header.chunk_offset = 64;
  expect_error(round_trip(header).status(), StatusCode::kProtocolError, "chunk offset 64");
}

TEST(FrameRejectionTest, HelloWithShortKeyIsProtocolError) {
  flatbuffers::FlatBufferBuilder builder;
  const std::vector<uint8_t> key(31, 7);
  const std::vector<uint8_t> nonce(32, 9);
  const auto key_offset = builder.CreateVector(key);
  const auto nonce_offset = builder.CreateVector(nonce);
  const auto hello = wire::CreateHello(builder, kProtocolVersion, key_offset, nonce_offset);
  wire::HeaderBuilder table(builder);
  table.add_kind(wire::FrameKind::Hello);
  table.add_hello(hello);
  builder.Finish(table.Finish(), wire::HeaderIdentifier());
  expect_error(decode_frame_header(finished(builder), {}).status(), StatusCode::kProtocolError,
               "public key of 31 bytes, expected 32");
}

TEST(FrameRejectionTest, HelloWithShortNonceIsProtocolError) {
  flatbuffers::FlatBufferBuilder builder;
  const std::vector<uint8_t> key(32, 7);
  const std::vector<uint8_t> nonce(16, 9);
  const auto key_offset = builder.CreateVector(key);
  const auto nonce_offset = builder.CreateVector(nonce);
  const auto hello = wire::CreateHello(builder, kProtocolVersion, key_offset, nonce_offset);
  wire::HeaderBuilder table(builder);
  table.add_kind(wire::FrameKind::Hello);
  table.add_hello(hello);
  builder.Finish(table.Finish(), wire::HeaderIdentifier());
  expect_error(decode_frame_header(finished(builder), {}).status(), StatusCode::kProtocolError,
               "nonce of 16 bytes, expected 32");
}

TEST(FrameRejectionTest, HelloWithAnotherProtocolVersionIsProtocolError) {
  FrameHeader header;
  header.kind = FrameKind::kHello;
  header.hello = HelloFields{kProtocolVersion + 1, counting_array<kPublicKeyBytes>(1),
                             counting_array<kNonceBytes>(2)};
  expect_error(round_trip(header).status(), StatusCode::kProtocolError, "protocol version 2");
}

TEST(FrameRejectionTest, HelloWithoutHelloFieldsIsProtocolError) {
  FrameHeader header;
  header.kind = FrameKind::kHello;
  expect_error(round_trip(header).status(), StatusCode::kProtocolError, "without hello fields");
}

TEST(FrameRejectionTest, ProofWithShortSignatureIsProtocolError) {
  flatbuffers::FlatBufferBuilder builder;
  const std::vector<uint8_t> signature(63, 1);
  const auto signature_offset = builder.CreateVector(signature);
  const auto proof = wire::CreateProof(builder, signature_offset);
  wire::HeaderBuilder table(builder);
  table.add_kind(wire::FrameKind::Proof);
  table.add_proof(proof);
  builder.Finish(table.Finish(), wire::HeaderIdentifier());
  expect_error(decode_frame_header(finished(builder), {}).status(), StatusCode::kProtocolError,
               "signature of 63 bytes, expected 64");

  FrameHeader without_proof;
  without_proof.kind = FrameKind::kProof;
  expect_error(round_trip(without_proof).status(), StatusCode::kProtocolError,
               "without a signature");
}

// ---------------------------------------------------------------------------------------------
// Rejected frame sequences

TEST(FrameRejectionTest, ContinuationOfAnUnknownCallIsProtocolError) {
  const Bytes stream = frame_with_chunk(continuation_header(FrameKind::kRequest, 7, 0), 10);
  expect_error(feed(stream), StatusCode::kProtocolError, "continuation of request call id 7");
}

TEST(FrameRejectionTest, ContinuationAtTheWrongChunkOffsetIsProtocolError) {
  const Bytes stream =
      concat({frame_with_chunk(request_header(7, 200), 100),
              frame_with_chunk(continuation_header(FrameKind::kRequest, 7, 50), 100)});
  expect_error(feed(stream), StatusCode::kProtocolError, "brings bytes [50, +100) but 100 of 200");
}

TEST(FrameRejectionTest, ContinuationPastTheEndOfThePayloadIsProtocolError) {
  const Bytes stream =
      concat({frame_with_chunk(request_header(7, 200), 100),
              frame_with_chunk(continuation_header(FrameKind::kRequest, 7, 100), 101)});
  expect_error(feed(stream), StatusCode::kProtocolError, "brings bytes [100, +101) but 100 of 200");
}

TEST(FrameRejectionTest, EmptyContinuationIsProtocolError) {
  const Bytes stream =
      concat({frame_with_chunk(request_header(7, 200), 100),
              frame_with_chunk(continuation_header(FrameKind::kRequest, 7, 100), 0)});
  expect_error(feed(stream), StatusCode::kProtocolError, "brings bytes [100, +0)");
}

TEST(FrameRejectionTest, ContinuationOfTheOtherDirectionIsProtocolError) {
  const Bytes stream =
      concat({frame_with_chunk(request_header(7, 200), 100),
              frame_with_chunk(continuation_header(FrameKind::kResponse, 7, 100), 100)});
  expect_error(feed(stream), StatusCode::kProtocolError, "continuation of response call id 7");
}

TEST(FrameRejectionTest, FirstFrameWithMoreBytesThanItsPayloadIsProtocolError) {
  expect_error(feed(frame_with_chunk(request_header(7, 10), 64)), StatusCode::kProtocolError,
               "first frame carries 64 bytes of a payload of 10");
}

TEST(FrameRejectionTest, SecondFirstFrameForAnArrivingCallIsProtocolError) {
  const Bytes stream = concat({frame_with_chunk(request_header(7, 200), 100),
                               frame_with_chunk(request_header(7, 200), 100)});
  expect_error(feed(stream), StatusCode::kProtocolError, "second request with call id 7");
}

TEST(FrameRejectionTest, ControlFrameCarryingPayloadBytesIsProtocolError) {
  FrameHeader cancel;
  cancel.kind = FrameKind::kCancel;
  cancel.call_id = 3;
  expect_error(feed(frame_with_chunk(cancel, 64)), StatusCode::kProtocolError,
               "cancel frame carries 64 payload bytes");
  FrameHeader proof;
  proof.kind = FrameKind::kProof;
  proof.proof = counting_array<kSignatureBytes>(0);
  expect_error(feed(frame_with_chunk(proof, 1)), StatusCode::kProtocolError,
               "proof frame carries 1 payload bytes");
}

TEST(FrameRejectionTest, TooManyPartialMessagesIsTooLarge) {
  FrameLimits limits;
  limits.max_partial_messages = 3;
  Bytes stream;
  for (uint64_t call_id = 1; call_id <= 3; ++call_id) {
    const Bytes frame = frame_with_chunk(request_header(call_id, 100), 10);
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  EXPECT_TRUE(feed(stream, limits).is_ok());
  const Bytes fourth = frame_with_chunk(request_header(4, 100), 10);
  stream.insert(stream.end(), fourth.begin(), fourth.end());
  expect_error(feed(stream, limits), StatusCode::kTooLarge,
               "more than 3 messages arriving at once");
}

TEST(FrameReaderTest, CompleteMessageIsAcceptedWhilePartialMessagesAreAtTheLimit) {
  FrameLimits limits;
  limits.max_partial_messages = 2;
  FrameReader reader(limits);
  RecordingSink sink;
  const Bytes stream = concat({frame_with_chunk(request_header(1, 100), 10),
                               frame_with_chunk(request_header(2, 100), 10),
                               frame_with_chunk(request_header(3, 10), 10)});
  Status status = reader.consume(stream, sink);
  ASSERT_TRUE(status.is_ok()) << status.to_string();
  ASSERT_EQ(sink.messages.size(), 1u);
  EXPECT_EQ(sink.messages[0].header.call_id, 3u);
}

TEST(FrameRejectionTest, PendingBytesAboveTheLimitAreTooLarge) {
  FrameLimits limits;
  limits.max_pending_receive_bytes = 250;
  const Bytes stream = concat(
      {frame_with_chunk(request_header(1, 200), 10), frame_with_chunk(request_header(2, 51), 10)});
  expect_error(feed(stream, limits), StatusCode::kTooLarge,
               "message of 51 bytes while 200 bytes are already arriving, limit 250");
}

TEST(FrameReaderTest, ReaderIsMidMessageUntilTheLastContinuationArrives) {
  FrameReader reader(FrameLimits{});
  RecordingSink sink;
  ASSERT_TRUE(reader.consume(frame_with_chunk(request_header(7, 200), 100), sink).is_ok());
  EXPECT_TRUE(reader.mid_message());
  EXPECT_EQ(reader.pending_receive_bytes(), 200u);
  const Bytes last =
      frame_with_chunk(continuation_header(FrameKind::kRequest, 7, 100), 100, std::byte{1});
  ASSERT_TRUE(reader.consume(last, sink).is_ok());
  EXPECT_FALSE(reader.mid_message());
  EXPECT_EQ(reader.pending_receive_bytes(), 0u);
  ASSERT_EQ(sink.messages.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Datagrams

TEST(DatagramTest, OneCompleteMessageDecodes) {
  FrameWriter writer(WriterLimits{});
  std::mt19937 random(3);
  Message message;
  message.metadata = counting_bytes(12, 0);
  message.tensors.push_back(random_tensor(WireDType::kF32, {6}, Compression::kNone, random));
  ASSERT_TRUE(writer.enqueue(request_header(9, 0), message).is_ok());
  auto frame = writer.next_frame();
  ASSERT_TRUE(frame.has_value());
  Bytes datagram;
  for (auto piece : frame->pieces) datagram.insert(datagram.end(), piece.begin(), piece.end());

  auto decoded = decode_datagram(datagram, {});
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded.value().header.call_id, 9u);
  EXPECT_EQ(decoded.value().message.metadata, message.metadata);
  ASSERT_EQ(decoded.value().message.tensors.size(), 1u);
  const auto bytes = decoded.value().message.tensors[0].bytes;
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), message.tensors[0].bytes.begin(),
                         message.tensors[0].bytes.end()));
}

TEST(DatagramTest, TrailingBytesAreProtocolError) {
  Bytes datagram = frame_with_chunk(request_header(9, 10), 10);
  datagram.push_back(std::byte{0});
  expect_error(
      decode_datagram(datagram, {}).status(), StatusCode::kProtocolError,
      str_cat("datagram of ", datagram.size(), " bytes is not exactly one complete message"));
}

TEST(DatagramTest, TruncatedMessageIsProtocolError) {
  const Bytes frame = frame_with_chunk(request_header(9, 200), 100);
  const Bytes datagram(frame.begin(), frame.end() - 1);
  expect_error(decode_datagram(datagram, {}).status(), StatusCode::kProtocolError,
               "not exactly one complete message");
  expect_error(decode_datagram(frame, {}).status(), StatusCode::kProtocolError,
               "not exactly one complete message");
  expect_error(decode_datagram({}, {}).status(), StatusCode::kProtocolError, "datagram of 0 bytes");
}

TEST(DatagramTest, TwoMessagesAreProtocolError) {
  FrameHeader cancel;
  cancel.kind = FrameKind::kCancel;
  const Bytes datagram =
      concat({frame_with_chunk(request_header(9, 10), 10), encode_frame_prefix(cancel, 0)});
  expect_error(decode_datagram(datagram, {}).status(), StatusCode::kProtocolError,
               "not exactly one complete message");
}

// ---------------------------------------------------------------------------------------------
// Admission, writer validation and cancellation

TEST(FrameAdmissionTest, ControlOnlyReaderRefusesMessagesUntilAllowed) {
  FrameReader reader(FrameLimits{}, FrameReader::Admission::kControlFramesOnly);
  RecordingSink sink;
  const Bytes request = frame_with_chunk(request_header(1, 10), 10);
  expect_error(reader.consume(request, sink), StatusCode::kProtocolError,
               "request before the identity handshake");
  FrameReader allowed(FrameLimits{}, FrameReader::Admission::kControlFramesOnly);
  allowed.allow_messages();
  EXPECT_TRUE(allowed.consume(request, sink).is_ok());
  EXPECT_EQ(sink.messages.size(), 1u);
}

TEST(FrameAdmissionTest, SharedReceiveBudgetLimitsAllReadersTogether) {
  auto budget = std::make_shared<FrameReader::ReceiveBudget>(FrameReader::ReceiveBudget{1000, 0});
  RecordingSink sink;
  FrameReader first(FrameLimits{}, FrameReader::Admission::kAllFrames, budget);
  FrameReader second(FrameLimits{}, FrameReader::Admission::kAllFrames, budget);
  // 600 bytes announced, 10 sent: the rest is still owed, and counts.
  EXPECT_TRUE(first.consume(frame_with_chunk(request_header(1, 600), 10), sink).is_ok());
  EXPECT_EQ(budget->used, 600u);
  expect_error(second.consume(frame_with_chunk(request_header(2, 600), 10), sink),
               StatusCode::kTooLarge, "this endpoint is receiving 600 bytes, limit 1000");
}

Message message_with_floats(size_t count) {
  std::vector<float> values(count, 1.0f);
  Message message;
  auto tensor = copy_wire_tensor(TensorDescriptor{WireDType::kF32, {static_cast<int64_t>(count)}},
                                 std::as_bytes(std::span(values)));
  EXPECT_TRUE(tensor.is_ok());
  message.tensors.push_back(std::move(tensor).value());
  return message;
}

TEST(FrameWriterTest, TensorWhoseBytesDoNotMatchItsDescriptorIsRefused) {
  FrameWriter writer(WriterLimits{});
  Message message = message_with_floats(4);
  message.tensors[0].descriptor.shape = {5};
  expect_error(writer.enqueue(request_header(1, 0), std::move(message)), StatusCode::kInvalidArgument,
               "tensor 0: none f32 needs 20 bytes, has 16");
  EXPECT_TRUE(writer.empty());
}

std::vector<FrameKind> drain_kinds(FrameWriter& writer) {
  std::vector<FrameKind> kinds;
  while (auto frame = writer.next_frame()) {
    Bytes bytes;
    for (auto piece : frame->pieces) bytes.insert(bytes.end(), piece.begin(), piece.end());
    auto header = decode_frame_header(std::span(bytes).subspan(kFramePrefixBytes, load_u32(bytes, 4)), {});
    EXPECT_TRUE(header.is_ok());
    kinds.push_back(header.value().kind);
  }
  return kinds;
}

TEST(FrameWriterTest, CancelWithdrawsARequestNotStartedYet) {
  FrameWriter writer(WriterLimits{});
  ASSERT_TRUE(writer.enqueue(request_header(1, 0), message_with_floats(10)).is_ok());
  writer.cancel_request(1);
  EXPECT_TRUE(writer.empty());
  EXPECT_EQ(writer.queued_bytes(), 0u);
}

TEST(FrameWriterTest, CancelOfAPartlySentRequestFollowsItsLastFrame) {
  WriterLimits limits;
  limits.chunk_bytes = 64;
  FrameWriter writer(limits);
  ASSERT_TRUE(writer.enqueue(request_header(1, 0), message_with_floats(64)).is_ok());  // 4 chunks
  ASSERT_TRUE(writer.next_frame().has_value());
  writer.cancel_request(1);
  EXPECT_EQ(drain_kinds(writer), (std::vector<FrameKind>{FrameKind::kContinuation, FrameKind::kContinuation,
                                                         FrameKind::kContinuation, FrameKind::kCancel}));
  EXPECT_EQ(writer.queued_bytes(), 0u);
}

TEST(FrameWriterTest, CancelOfASentRequestIsSentAtOnce) {
  FrameWriter writer(WriterLimits{});
  ASSERT_TRUE(writer.enqueue(request_header(1, 0), message_with_floats(4)).is_ok());
  ASSERT_TRUE(writer.next_frame().has_value());
  writer.cancel_request(1);
  EXPECT_EQ(drain_kinds(writer), std::vector<FrameKind>{FrameKind::kCancel});
}

}  // namespace
}  // namespace hive::net
