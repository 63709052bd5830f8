// Turns the bytes of one connection (or one datagram) into messages. Pure: no sockets, so the
// same code runs under the fuzzer. Large chunks are read straight into the message's payload
// buffer (read_buffer() points there), so a big tensor is copied zero times after the kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "net/core/status.h"
#include "net/wire/frame.h"
#include "net/wire/message.h"

namespace hive::net {

class FrameReader {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    // A complete request or response: the header of its first frame, and its tensors pointing
    // into the payload buffer that they own.
    virtual void on_message(FrameHeader header, Message message) = 0;
    // Cancel, hello and proof frames.
    virtual void on_control(FrameHeader header) = 0;
  };

  // Payload bytes arriving over all of an endpoint's connections, against one limit, so that
  // many connections cannot together hold more than that. I/O thread only.
  struct ReceiveBudget {
    uint64_t limit = 0;
    uint64_t used = 0;
  };

  // Until allow_messages(), only control frames are accepted: a peer that has not proven its
  // identity cannot make this node allocate payload buffers.
  enum class Admission { kControlFramesOnly, kAllFrames };

  explicit FrameReader(FrameLimits limits, Admission admission = Admission::kAllFrames,
                       std::shared_ptr<ReceiveBudget> budget = nullptr);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  void allow_messages() { admission_ = Admission::kAllFrames; }

  // Where the transport should put the next bytes it reads.
  std::span<std::byte> read_buffer();
  // `bytes` bytes were written at the start of the last read_buffer().
  Status commit_read(size_t bytes, Sink& sink);
  // Bytes that arrived elsewhere (a datagram, a fuzzer input). After an error the reader is
  // unusable: the connection must be closed.
  Status consume(std::span<const std::byte> bytes, Sink& sink);

  // True while a frame or a multi-frame message is incomplete: a peer that stops here stalls.
  bool mid_message() const;
  uint64_t pending_receive_bytes() const { return pending_bytes_; }

 private:
  enum class State { kPrefix, kHeader, kChunk };
  struct Partial {
    FrameHeader header;
    std::shared_ptr<std::byte[]> payload;
    uint64_t received = 0;
  };
  using PartialKey = std::pair<FrameKind, uint64_t>;

  Status on_prefix_complete();
  Status on_header_complete(Sink& sink);
  Status start_message(FrameHeader header, uint64_t chunk_bytes, Sink& sink);
  Status continue_message(const FrameHeader& header, uint64_t chunk_bytes);
  Status on_chunk_complete(Sink& sink);
  void finish_message(PartialKey key, Sink& sink);
  void deliver(FrameHeader header, std::shared_ptr<std::byte[]> payload, Sink& sink);

  FrameLimits limits_;
  Admission admission_;
  std::shared_ptr<ReceiveBudget> budget_;
  State state_ = State::kPrefix;
  std::vector<std::byte> header_region_;  // prefix + header + padding of the current frame
  uint64_t frame_length_ = 0;
  uint32_t header_length_ = 0;
  std::map<PartialKey, Partial> partials_;
  uint64_t pending_bytes_ = 0;
  PartialKey chunk_target_{};
  std::byte* chunk_destination_ = nullptr;
  uint64_t chunk_remaining_ = 0;
  std::vector<std::byte> staging_;
  bool last_read_was_direct_ = false;
};

// Decodes one datagram: exactly one complete message or control frame, nothing left over.
struct DecodedDatagram {
  FrameHeader header;
  Message message;
};
Result<DecodedDatagram> decode_datagram(std::span<const std::byte> datagram,
                                        const FrameLimits& limits);

}  // namespace hive::net
