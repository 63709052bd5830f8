#include "net/wire/frame_writer.h"

#include <algorithm>
#include <array>

#include "net/codec/tensor_codec.h"

namespace hive::net {
namespace {

const std::array<std::byte, kSegmentAlignment> kZeros{};

// What a message's header counts against the send queue: its metadata plus an allowance for
// the rest of the header (the prefix is built only when the first frame goes out).
uint64_t header_share(const FrameHeader& header) { return header.metadata.size() + 256; }

struct FrameBytes {
  std::vector<std::byte> prefix;
  std::shared_ptr<const void> stream;
};

// The pieces that cover payload bytes [begin, end): tensor slices and the zero padding between.
void append_payload_pieces(const FrameHeader& header, const Message& message, uint64_t begin,
                           uint64_t end, std::vector<std::span<const std::byte>>& pieces) {
  uint64_t position = begin;
  for (size_t i = 0; i < header.tensors.size() && position < end; ++i) {
    const TensorLayout& layout = header.tensors[i];
    const uint64_t tensor_end = layout.offset + layout.length;
    if (tensor_end <= position) continue;
    if (position < layout.offset) {
      const uint64_t gap_end = std::min(layout.offset, end);
      pieces.emplace_back(kZeros.data(), gap_end - position);
      position = gap_end;
      if (position == end) break;
    }
    const uint64_t slice_end = std::min(tensor_end, end);
    pieces.push_back(message.tensors[i].bytes.subspan(position - layout.offset, slice_end - position));
    position = slice_end;
  }
  HIVE_NET_CHECK(position == end, "payload layout does not cover [", begin, ", ", end, ")");
}

}  // namespace

Status FrameWriter::enqueue(FrameHeader header, Message message) {
  // A malformed message would make the peer close the connection, failing every call on it:
  // it fails here instead, alone.
  if (message.metadata.size() > limits_.max_metadata_bytes) {
    return Status(StatusCode::kTooLarge, str_cat("message metadata of ", message.metadata.size(),
                                                 " bytes, limit ", limits_.max_metadata_bytes));
  }
  for (size_t i = 0; i < message.tensors.size(); ++i) {
    const WireTensor& tensor = message.tensors[i];
    auto expected = encoded_size(tensor.descriptor, tensor.compression);
    if (!expected.is_ok()) {
      return Status(StatusCode::kInvalidArgument, str_cat("tensor ", i, ": ", expected.status().message()));
    }
    if (expected.value() != tensor.bytes.size()) {
      return Status(StatusCode::kInvalidArgument,
                    str_cat("tensor ", i, ": ", compression_name(tensor.compression), " ",
                            wire_dtype_name(tensor.descriptor.dtype), " needs ", expected.value(),
                            " bytes, has ", tensor.bytes.size()));
    }
  }
  header.tensors.clear();
  header.tensors.reserve(message.tensors.size());
  uint64_t offset = 0;
  for (const WireTensor& tensor : message.tensors) {
    offset = align_up(offset, kSegmentAlignment);
    header.tensors.push_back(
        TensorLayout{tensor.descriptor, tensor.compression, offset, tensor.bytes.size()});
    offset += tensor.bytes.size();
  }
  header.payload_length = offset;
  header.chunk_offset = 0;
  header.metadata = std::move(message.metadata);
  const uint64_t bytes = header.payload_length + header_share(header);
  if (queued_bytes_ > 0 && queued_bytes_ + bytes > limits_.max_queued_bytes) {
    return Status(StatusCode::kOverloaded,
                  str_cat("send queue holds ", queued_bytes_, " bytes; a message of ", bytes,
                          " bytes would pass the limit of ", limits_.max_queued_bytes));
  }
  queued_bytes_ += bytes;
  auto stream = std::make_shared<Stream>();
  stream->header = std::move(header);
  stream->message = std::move(message);
  streams_.push_back(std::move(stream));
  return Status::ok();
}

void FrameWriter::enqueue_control(const FrameHeader& header) {
  auto bytes = std::make_shared<std::vector<std::byte>>(encode_frame_prefix(header, 0));
  queued_bytes_ += bytes->size();
  OutgoingFrame frame;
  frame.pieces.emplace_back(*bytes);
  frame.bytes = bytes->size();
  frame.keepalive = std::move(bytes);
  control_.push_back(std::move(frame));
}

std::optional<OutgoingFrame> FrameWriter::next_frame() {
  if (!control_.empty()) {
    OutgoingFrame frame = std::move(control_.front());
    control_.pop_front();
    queued_bytes_ -= std::min(queued_bytes_, frame.bytes);
    return frame;
  }
  if (streams_.empty()) return std::nullopt;
  std::shared_ptr<Stream> stream = std::move(streams_.front());
  streams_.pop_front();
  OutgoingFrame frame = frame_of(*stream, stream);
  if (stream->sent < stream->header.payload_length) {
    streams_.push_back(std::move(stream));
  } else {
    // The header's share of the accounting leaves with the last frame.
    queued_bytes_ -= std::min(queued_bytes_, header_share(stream->header));
    if (stream->cancel_when_sent) enqueue_control(cancel_frame(stream->header.call_id));
  }
  return frame;
}

FrameHeader FrameWriter::cancel_frame(uint64_t call_id) {
  FrameHeader cancel;
  cancel.kind = FrameKind::kCancel;
  cancel.call_id = call_id;
  return cancel;
}

void FrameWriter::cancel_request(uint64_t call_id) {
  auto found = std::find_if(streams_.begin(), streams_.end(), [&](const auto& queued) {
    return queued->header.kind == FrameKind::kRequest && queued->header.call_id == call_id;
  });
  if (found == streams_.end()) {
    enqueue_control(cancel_frame(call_id));  // all sent: the callee may be working on it
    return;
  }
  Stream& stream = **found;
  if (stream.started) {
    // The callee learns of the call only once it has all of it; cancelling sooner would let
    // the cancel overtake the request.
    stream.cancel_when_sent = true;
    return;
  }
  queued_bytes_ -= std::min(queued_bytes_, stream.header.payload_length + header_share(stream.header));
  streams_.erase(found);  // never seen by the callee: nothing to tell it
}

OutgoingFrame FrameWriter::frame_of(Stream& stream, std::shared_ptr<Stream> keepalive) {
  const uint64_t begin = stream.sent;
  const uint64_t end = std::min(stream.header.payload_length, begin + limits_.chunk_bytes);
  auto bytes = std::make_shared<FrameBytes>();
  if (begin == 0) {
    bytes->prefix = encode_frame_prefix(stream.header, end - begin);
  } else {
    FrameHeader continuation;
    continuation.kind = FrameKind::kContinuation;
    continuation.continues = stream.header.kind;
    continuation.call_id = stream.header.call_id;
    continuation.chunk_offset = begin;
    bytes->prefix = encode_frame_prefix(continuation, end - begin);
  }
  OutgoingFrame frame;
  frame.pieces.emplace_back(bytes->prefix);
  append_payload_pieces(stream.header, stream.message, begin, end, frame.pieces);
  frame.bytes = bytes->prefix.size() + (end - begin);
  bytes->stream = std::move(keepalive);
  frame.keepalive = std::move(bytes);
  stream.sent = end;
  stream.started = true;
  queued_bytes_ -= std::min(queued_bytes_, end - begin);
  return frame;
}

}  // namespace hive::net
