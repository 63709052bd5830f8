// Splits outgoing messages into frames. Pure: no sockets. A message whose payload exceeds the
// chunk size goes out as several frames, and the frames of different messages take turns, so a
// small call is never stuck behind a 256 MiB transfer. Tensor bytes are never copied: a frame
// is a list of pieces pointing into the caller's tensors (kept alive by the frame).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "net/core/status.h"
#include "net/wire/frame.h"
#include "net/wire/message.h"

namespace hive::net {

struct OutgoingFrame {
  std::vector<std::span<const std::byte>> pieces;
  uint64_t bytes = 0;
  // Keeps the prefix bytes and the tensors alive until the frame is written.
  std::shared_ptr<const void> keepalive;
};

struct WriterLimits {
  uint64_t chunk_bytes = 4ull << 20;
  // Accepted but not yet handed to the socket, control frames included. Past it, new messages
  // get kOverloaded and the connection stops reading requests until the queue drains.
  uint64_t max_queued_bytes = 1ull << 30;
  uint64_t max_metadata_bytes = 512ull << 10;  // peers accept headers up to 1 MiB
};

class FrameWriter {
 public:
  explicit FrameWriter(WriterLimits limits) : limits_(limits) {}

  // Queues a request or response. Lays the tensors out in the payload (64-byte aligned) and
  // fills header.tensors, payload_length and metadata. kOverloaded when the queue already holds
  // max_queued_bytes (an empty queue always accepts one message); kInvalidArgument when a
  // tensor's bytes do not match its descriptor and compression; kTooLarge for huge metadata.
  Status enqueue(FrameHeader header, Message message);
  // Cancel, hello, proof and error-response frames: small, and sent before any further
  // message data.
  void enqueue_control(const FrameHeader& header);
  // Withdraws a request not yet started; tells the callee (a Cancel frame) about one it has or
  // will have received in full.
  void cancel_request(uint64_t call_id);

  // The next frame to write, or nothing when the queue is empty.
  std::optional<OutgoingFrame> next_frame();
  bool empty() const { return control_.empty() && streams_.empty(); }
  uint64_t queued_bytes() const { return queued_bytes_; }

 private:
  struct Stream {
    FrameHeader header;
    Message message;
    uint64_t sent = 0;
    bool started = false;
    bool cancel_when_sent = false;
  };
  OutgoingFrame frame_of(Stream& stream, std::shared_ptr<Stream> keepalive);
  static FrameHeader cancel_frame(uint64_t call_id);

  WriterLimits limits_;
  std::deque<OutgoingFrame> control_;
  std::deque<std::shared_ptr<Stream>> streams_;
  uint64_t queued_bytes_ = 0;
};

}  // namespace hive::net
