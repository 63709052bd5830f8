// Frames: encoding a header into the bytes that precede a frame's chunk, and decoding and
// validating a received header. The layout is documented in net/schema/frame.fbs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/core/status.h"
#include "net/identity/handshake.h"
#include "net/wire/tensor_descriptor.h"

namespace hive::net {

inline constexpr size_t kSegmentAlignment = 64;
inline constexpr size_t kFramePrefixBytes = 8;  // u32 frame_length | u32 header_length
inline constexpr uint32_t kProtocolVersion = 1;

enum class FrameKind : uint8_t {
  kRequest = 0, kResponse = 1, kContinuation = 2, kCancel = 3, kHello = 4, kProof = 5
};
std::string_view frame_kind_name(FrameKind kind);

struct FrameLimits {
  uint32_t max_header_bytes = 1u << 20;
  uint64_t max_frame_bytes = 64ull << 20;       // one frame: prefix + header + chunk
  uint64_t max_message_bytes = 1ull << 30;      // one message's payload, over all its frames
  uint64_t max_pending_receive_bytes = 2ull << 30;  // payloads still arriving on one connection
  uint32_t max_partial_messages = 256;
  uint32_t max_tensors = 4096;
  uint32_t max_rank = 16;
};

struct TensorLayout {
  TensorDescriptor descriptor;
  Compression compression = Compression::kNone;
  uint64_t offset = 0;  // within the payload
  uint64_t length = 0;  // encoded bytes
};

struct HelloFields {
  uint32_t protocol_version = kProtocolVersion;
  PublicKey public_key{};
  Nonce nonce{};
};

// A decoded header, independent of the receive buffer it came from.
struct FrameHeader {
  FrameKind kind = FrameKind::kRequest;
  uint64_t call_id = 0;
  std::string method;
  int32_t status_code = 0;
  std::string status_message;
  uint32_t timeout_ms = 0;
  std::vector<std::byte> metadata;
  std::vector<TensorLayout> tensors;
  uint64_t payload_length = 0;
  uint64_t chunk_offset = 0;
  FrameKind continues = FrameKind::kRequest;
  std::optional<HelloFields> hello;
  std::optional<Signature> proof;
};

constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// Bytes from the frame's start to its chunk: prefix, header, zero padding to 64 bytes.
// frame_length in the prefix is set for `chunk_bytes` bytes following.
std::vector<std::byte> encode_frame_prefix(const FrameHeader& header, uint64_t chunk_bytes);

// Where a frame's chunk starts, given its header length.
constexpr uint64_t chunk_start(uint32_t header_length) {
  return align_up(kFramePrefixBytes + header_length, kSegmentAlignment);
}

// Verifies (flatbuffers::Verifier, file identifier) and decodes a header, then checks it for its
// kind: tensor layouts inside the payload, 64-byte aligned, not overlapping, encoded sizes that
// match dtype, shape and compression; payload within max_message_bytes; hello and proof fields
// of the right sizes. Every failure is kProtocolError or kTooLarge naming the field and value.
Result<FrameHeader> decode_frame_header(std::span<const std::byte> header_bytes,
                                        const FrameLimits& limits);

}  // namespace hive::net
