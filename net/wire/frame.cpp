#include "net/wire/frame.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>

#include "net/codec/tensor_codec.h"
#include "net/schema/frame_generated.h"

namespace hive::net {
namespace {

// Headers are small tables: a deep or table-heavy buffer is an attack, not a message.
constexpr flatbuffers::uoffset_t kMaxHeaderDepth = 8;
constexpr flatbuffers::uoffset_t kMaxHeaderTables = 20000;

void store_u32(std::byte* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}

template <typename Vector>
const uint8_t* byte_pointer(const Vector& bytes) {
  return reinterpret_cast<const uint8_t*>(bytes.data());
}

Status protocol_error(std::string message) {
  return Status(StatusCode::kProtocolError, std::move(message));
}

Status decode_tensor_layouts(const wire::Header& header, const FrameLimits& limits,
                             FrameHeader& out) {
  const auto* tensors = header.tensors();
  if (tensors == nullptr) return Status::ok();
  if (tensors->size() > limits.max_tensors) {
    return protocol_error(str_cat("header lists ", tensors->size(), " tensors, limit ",
                                  limits.max_tensors));
  }
  uint64_t end_of_previous = 0;
  out.tensors.reserve(tensors->size());
  for (flatbuffers::uoffset_t i = 0; i < tensors->size(); ++i) {
    const wire::TensorDesc* desc = tensors->Get(i);
    TensorLayout layout;
    auto dtype = wire_dtype_from_wire(static_cast<uint8_t>(desc->dtype()));
    auto compression = compression_from_wire(static_cast<uint8_t>(desc->compression()));
    if (!dtype) return protocol_error(str_cat("tensor ", i, ": unknown dtype ", int(desc->dtype())));
    if (!compression) {
      return protocol_error(str_cat("tensor ", i, ": unknown compression ",
                                    int(desc->compression())));
    }
    layout.descriptor.dtype = *dtype;
    layout.compression = *compression;
    if (desc->shape() != nullptr) {
      if (desc->shape()->size() > limits.max_rank) {
        return protocol_error(str_cat("tensor ", i, ": rank ", desc->shape()->size(),
                                      " above the limit ", limits.max_rank));
      }
      // Copied bytewise: the Verifier checks a vector's length field for 4-byte alignment but
      // not its 8-byte elements, so a peer can place the dimensions misaligned.
      std::vector<int64_t>& shape = layout.descriptor.shape;
      shape.resize(desc->shape()->size());
      if (!shape.empty()) {
        std::memcpy(shape.data(), desc->shape()->Data(), shape.size() * sizeof(int64_t));
      }
      for (int64_t& dim : shape) dim = flatbuffers::EndianScalar(dim);
    }
    layout.offset = desc->offset();
    layout.length = desc->length();
    auto expected = encoded_size(layout.descriptor, layout.compression);
    if (!expected.is_ok()) {
      return protocol_error(str_cat("tensor ", i, ": ", expected.status().message()));
    }
    if (expected.value() != layout.length) {
      return protocol_error(str_cat("tensor ", i, ": ", compression_name(layout.compression), " ",
                                    wire_dtype_name(layout.descriptor.dtype), " needs ",
                                    expected.value(), " bytes, header says ", layout.length));
    }
    if (layout.offset % kSegmentAlignment != 0 || layout.offset < end_of_previous) {
      return protocol_error(str_cat("tensor ", i, ": offset ", layout.offset,
                                    " is unaligned or overlaps the previous tensor (ends at ",
                                    end_of_previous, ")"));
    }
    if (layout.offset > out.payload_length || layout.length > out.payload_length - layout.offset) {
      return protocol_error(str_cat("tensor ", i, ": bytes [", layout.offset, ", +", layout.length,
                                    ") outside the payload of ", out.payload_length, " bytes"));
    }
    end_of_previous = layout.offset + layout.length;
    out.tensors.push_back(std::move(layout));
  }
  return Status::ok();
}

// Copies a fixed-size field (a key, a nonce, a signature), or says what size it had instead.
template <size_t N>
Status copy_exact(std::string_view field, const flatbuffers::Vector<uint8_t>* bytes,
                  std::array<std::byte, N>& out) {
  const size_t size = bytes == nullptr ? 0 : bytes->size();
  if (size != N) return protocol_error(str_cat(field, " of ", size, " bytes, expected ", N));
  std::memcpy(out.data(), bytes->data(), N);
  return Status::ok();
}

Status decode_hello(const wire::Header& header, FrameHeader& out) {
  const wire::Hello* hello = header.hello();
  if (hello == nullptr) return protocol_error("hello frame without hello fields");
  HelloFields fields;
  fields.protocol_version = hello->protocol_version();
  if (fields.protocol_version != kProtocolVersion) {
    return protocol_error(str_cat("peer speaks protocol version ", fields.protocol_version,
                                  ", this node speaks ", kProtocolVersion));
  }
  Status status = copy_exact("hello: public key", hello->public_key(), fields.public_key);
  if (status.is_ok()) status = copy_exact("hello: nonce", hello->nonce(), fields.nonce);
  if (!status.is_ok()) return status;
  out.hello = fields;
  return Status::ok();
}

}  // namespace

std::string_view frame_kind_name(FrameKind kind) {
  switch (kind) {
    case FrameKind::kRequest: return "request";
    case FrameKind::kResponse: return "response";
    case FrameKind::kContinuation: return "continuation";
    case FrameKind::kCancel: return "cancel";
    case FrameKind::kHello: return "hello";
    case FrameKind::kProof: return "proof";
  }
  return "unknown";
}

std::vector<std::byte> encode_frame_prefix(const FrameHeader& header, uint64_t chunk_bytes) {
  // One builder per thread, cleared and reused: its buffer is not reallocated for every frame.
  thread_local flatbuffers::FlatBufferBuilder builder(1024);
  builder.Clear();
  std::vector<flatbuffers::Offset<wire::TensorDesc>> tensors;
  tensors.reserve(header.tensors.size());
  for (const TensorLayout& layout : header.tensors) {
    auto shape = builder.CreateVector(layout.descriptor.shape);
    tensors.push_back(wire::CreateTensorDesc(builder, static_cast<wire::DType>(layout.descriptor.dtype),
                                             shape, static_cast<wire::Compression>(layout.compression),
                                             layout.offset, layout.length));
  }
  auto method = header.method.empty() ? 0 : builder.CreateString(header.method);
  auto status_message = header.status_message.empty() ? 0 : builder.CreateString(header.status_message);
  auto metadata = header.metadata.empty() ? 0 : builder.CreateVector(byte_pointer(header.metadata),
                                                                     header.metadata.size());
  auto tensor_vector = tensors.empty() ? 0 : builder.CreateVector(tensors);
  flatbuffers::Offset<wire::Hello> hello = 0;
  if (header.hello) {
    auto key = builder.CreateVector(byte_pointer(header.hello->public_key), kPublicKeyBytes);
    auto nonce = builder.CreateVector(byte_pointer(header.hello->nonce), kNonceBytes);
    hello = wire::CreateHello(builder, header.hello->protocol_version, key, nonce);
  }
  flatbuffers::Offset<wire::Proof> proof = 0;
  if (header.proof) {
    proof = wire::CreateProof(builder, builder.CreateVector(byte_pointer(*header.proof), kSignatureBytes));
  }
  wire::HeaderBuilder table(builder);
  table.add_kind(static_cast<wire::FrameKind>(header.kind));
  table.add_call_id(header.call_id);
  table.add_method(method);
  table.add_status_code(header.status_code);
  table.add_status_message(status_message);
  table.add_timeout_ms(header.timeout_ms);
  table.add_metadata(metadata);
  table.add_tensors(tensor_vector);
  table.add_payload_length(header.payload_length);
  table.add_chunk_offset(header.chunk_offset);
  table.add_continues(static_cast<wire::FrameKind>(header.continues));
  table.add_hello(hello);
  table.add_proof(proof);
  builder.Finish(table.Finish(), wire::HeaderIdentifier());

  const auto header_length = static_cast<uint32_t>(builder.GetSize());
  const uint64_t start = chunk_start(header_length);
  const uint64_t frame_length = start - 4 + chunk_bytes;
  HIVE_NET_CHECK(frame_length <= UINT32_MAX, "frame of ", frame_length, " bytes");
  std::vector<std::byte> prefix(start, std::byte{0});
  store_u32(prefix.data(), static_cast<uint32_t>(frame_length));
  store_u32(prefix.data() + 4, header_length);
  std::memcpy(prefix.data() + kFramePrefixBytes, builder.GetBufferPointer(), header_length);
  return prefix;
}

Result<FrameHeader> decode_frame_header(std::span<const std::byte> header_bytes,
                                        const FrameLimits& limits) {
  const auto* data = reinterpret_cast<const uint8_t*>(header_bytes.data());
  if (header_bytes.size() < 8 || !wire::HeaderBufferHasIdentifier(data)) {
    return protocol_error("frame header lacks the file identifier HIV1");
  }
  flatbuffers::Verifier verifier(data, header_bytes.size(), kMaxHeaderDepth, kMaxHeaderTables);
  if (!wire::VerifyHeaderBuffer(verifier)) {
    return protocol_error(str_cat("frame header of ", header_bytes.size(),
                                  " bytes fails FlatBuffers verification"));
  }
  const wire::Header& header = *wire::GetHeader(data);
  FrameHeader out;
  const auto kind = static_cast<uint8_t>(header.kind());
  if (kind > static_cast<uint8_t>(FrameKind::kProof)) {
    return protocol_error(str_cat("unknown frame kind ", int(kind)));
  }
  out.kind = static_cast<FrameKind>(kind);
  out.call_id = header.call_id();
  if (header.method() != nullptr) out.method = header.method()->str();
  out.status_code = header.status_code();
  if (header.status_message() != nullptr) out.status_message = header.status_message()->str();
  out.timeout_ms = header.timeout_ms();
  if (header.metadata() != nullptr) {
    const auto* begin = reinterpret_cast<const std::byte*>(header.metadata()->data());
    out.metadata.assign(begin, begin + header.metadata()->size());
  }
  out.payload_length = header.payload_length();
  out.chunk_offset = header.chunk_offset();
  const auto continues = static_cast<uint8_t>(header.continues());
  if (continues > static_cast<uint8_t>(FrameKind::kResponse)) {
    return protocol_error(str_cat("continuation of a frame kind ", int(continues),
                                  " that has no payload"));
  }
  out.continues = static_cast<FrameKind>(continues);

  switch (out.kind) {
    case FrameKind::kRequest:
    case FrameKind::kResponse: {
      if (out.payload_length > limits.max_message_bytes) {
        return Status(StatusCode::kTooLarge,
                      str_cat(frame_kind_name(out.kind), " with a payload of ", out.payload_length,
                              " bytes, limit ", limits.max_message_bytes));
      }
      if (out.chunk_offset != 0) {
        return protocol_error(str_cat("first frame of a message at chunk offset ", out.chunk_offset));
      }
      if (out.kind == FrameKind::kRequest && out.method.empty()) {
        return protocol_error("request without a method name");
      }
      Status status = decode_tensor_layouts(header, limits, out);
      if (!status.is_ok()) return status;
      return out;
    }
    case FrameKind::kContinuation:
    case FrameKind::kCancel:
      return out;
    case FrameKind::kHello: {
      Status status = decode_hello(header, out);
      if (!status.is_ok()) return status;
      return out;
    }
    case FrameKind::kProof: {
      if (header.proof() == nullptr) return protocol_error("proof frame without a signature");
      Signature signature;
      Status status = copy_exact("proof: signature", header.proof()->signature(), signature);
      if (!status.is_ok()) return status;
      out.proof = signature;
      return out;
    }
  }
  return protocol_error("unreachable frame kind");
}

}  // namespace hive::net
