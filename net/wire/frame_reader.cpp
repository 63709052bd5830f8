#include "net/wire/frame_reader.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "net/wire/payload_pool.h"

namespace hive::net {
namespace {

constexpr size_t kStagingBytes = 64 * 1024;
// Chunks at least this large are read directly into the payload buffer.
constexpr uint64_t kDirectReadThreshold = 16 * 1024;

uint32_t load_u32(const std::byte* bytes) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<uint32_t>(bytes[i]);
  return value;
}

Status protocol_error(std::string message) {
  return Status(StatusCode::kProtocolError, std::move(message));
}

}  // namespace

FrameReader::FrameReader(FrameLimits limits, Admission admission,
                         std::shared_ptr<ReceiveBudget> budget)
    : limits_(limits), admission_(admission), budget_(std::move(budget)) {
  header_region_.reserve(1024);
}

FrameReader::~FrameReader() {
  if (budget_) budget_->used -= pending_bytes_;
}

bool FrameReader::mid_message() const {
  return state_ != State::kPrefix || !header_region_.empty() || !partials_.empty();
}

std::span<std::byte> FrameReader::read_buffer() {
  last_read_was_direct_ = state_ == State::kChunk && chunk_remaining_ >= kDirectReadThreshold;
  if (last_read_was_direct_) return {chunk_destination_, chunk_remaining_};
  if (staging_.empty()) staging_.resize(kStagingBytes);  // datagram readers never need it
  return staging_;
}

Status FrameReader::commit_read(size_t bytes, Sink& sink) {
  if (!last_read_was_direct_) return consume(std::span(staging_).first(bytes), sink);
  HIVE_NET_CHECK(bytes <= chunk_remaining_, "read past the chunk");
  chunk_destination_ += bytes;
  chunk_remaining_ -= bytes;
  return chunk_remaining_ == 0 ? on_chunk_complete(sink) : Status::ok();
}

Status FrameReader::consume(std::span<const std::byte> bytes, Sink& sink) {
  while (!bytes.empty()) {
    if (state_ == State::kChunk) {
      const size_t take = std::min<uint64_t>(bytes.size(), chunk_remaining_);
      std::memcpy(chunk_destination_, bytes.data(), take);
      chunk_destination_ += take;
      chunk_remaining_ -= take;
      bytes = bytes.subspan(take);
      if (chunk_remaining_ == 0) {
        Status status = on_chunk_complete(sink);
        if (!status.is_ok()) return status;
      }
      continue;
    }
    const size_t wanted = state_ == State::kPrefix ? kFramePrefixBytes
                                                   : chunk_start(header_length_);
    const size_t take = std::min(bytes.size(), wanted - header_region_.size());
    header_region_.insert(header_region_.end(), bytes.begin(), bytes.begin() + take);
    bytes = bytes.subspan(take);
    if (header_region_.size() < wanted) continue;
    Status status = state_ == State::kPrefix ? on_prefix_complete() : on_header_complete(sink);
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

Status FrameReader::on_prefix_complete() {
  frame_length_ = load_u32(header_region_.data());
  header_length_ = load_u32(header_region_.data() + 4);
  if (frame_length_ + 4 > limits_.max_frame_bytes) {
    return Status(StatusCode::kTooLarge, str_cat("frame of ", frame_length_ + 4,
                                                 " bytes, limit ", limits_.max_frame_bytes));
  }
  if (header_length_ > limits_.max_header_bytes) {
    return Status(StatusCode::kTooLarge, str_cat("frame header of ", header_length_,
                                                 " bytes, limit ", limits_.max_header_bytes));
  }
  if (header_length_ < 8 || chunk_start(header_length_) > frame_length_ + 4) {
    return protocol_error(str_cat("frame of ", frame_length_ + 4, " bytes cannot hold a header of ",
                                  header_length_, " bytes"));
  }
  state_ = State::kHeader;
  return Status::ok();
}

Status FrameReader::on_header_complete(Sink& sink) {
  const uint64_t start = chunk_start(header_length_);
  const uint64_t chunk_bytes = frame_length_ + 4 - start;
  auto header = decode_frame_header(
      std::span(header_region_).subspan(kFramePrefixBytes, header_length_), limits_);
  header_region_.clear();
  state_ = State::kPrefix;
  if (!header.is_ok()) return header.status();
  switch (header.value().kind) {
    case FrameKind::kRequest:
    case FrameKind::kResponse:
    case FrameKind::kContinuation:
      if (admission_ == Admission::kControlFramesOnly) {
        return protocol_error(str_cat(frame_kind_name(header.value().kind),
                                      " before the identity handshake"));
      }
      if (header.value().kind == FrameKind::kContinuation) {
        return continue_message(header.value(), chunk_bytes);
      }
      return start_message(std::move(header).value(), chunk_bytes, sink);
    default:
      if (chunk_bytes != 0) {
        return protocol_error(str_cat(frame_kind_name(header.value().kind), " frame carries ",
                                      chunk_bytes, " payload bytes"));
      }
      sink.on_control(std::move(header).value());
      return Status::ok();
  }
}

Status FrameReader::start_message(FrameHeader header, uint64_t chunk_bytes, Sink& sink) {
  const PartialKey key{header.kind, header.call_id};
  if (chunk_bytes > header.payload_length) {
    return protocol_error(str_cat("first frame carries ", chunk_bytes, " bytes of a payload of ",
                                  header.payload_length));
  }
  if (partials_.contains(key)) {
    return protocol_error(str_cat("second ", frame_kind_name(header.kind), " with call id ",
                                  header.call_id, " while the first is still arriving"));
  }
  // A message whose first frame carries its whole payload completes at once: only one that
  // stays incomplete counts against the limit.
  if (chunk_bytes < header.payload_length && partials_.size() >= limits_.max_partial_messages) {
    return Status(StatusCode::kTooLarge, str_cat("more than ", limits_.max_partial_messages,
                                                 " messages arriving at once"));
  }
  if (header.payload_length > limits_.max_pending_receive_bytes - pending_bytes_) {
    return Status(StatusCode::kTooLarge,
                  str_cat("message of ", header.payload_length, " bytes while ", pending_bytes_,
                          " bytes are already arriving, limit ", limits_.max_pending_receive_bytes));
  }
  if (header.payload_length == 0) {  // most small calls: no buffer, no bookkeeping
    deliver(std::move(header), nullptr, sink);
    return Status::ok();
  }
  if (budget_ && header.payload_length > budget_->limit - std::min(budget_->used, budget_->limit)) {
    return Status(StatusCode::kTooLarge,
                  str_cat("message of ", header.payload_length, " bytes while this endpoint is receiving ",
                          budget_->used, " bytes, limit ", budget_->limit));
  }
  Partial partial;
  try {
    partial.payload = allocate_payload(header.payload_length);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kTooLarge,
                  str_cat("cannot allocate ", header.payload_length, " bytes for a message"));
  }
  partial.header = std::move(header);
  pending_bytes_ += partial.header.payload_length;
  if (budget_) budget_->used += partial.header.payload_length;
  auto [entry, inserted] = partials_.emplace(key, std::move(partial));
  chunk_target_ = key;
  chunk_destination_ = entry->second.payload.get();
  chunk_remaining_ = chunk_bytes;
  state_ = State::kChunk;
  return chunk_bytes == 0 ? on_chunk_complete(sink) : Status::ok();
}

Status FrameReader::continue_message(const FrameHeader& header, uint64_t chunk_bytes) {
  const PartialKey key{header.continues, header.call_id};
  auto entry = partials_.find(key);
  if (entry == partials_.end()) {
    return protocol_error(str_cat("continuation of ", frame_kind_name(header.continues),
                                  " call id ", header.call_id, " that is not arriving"));
  }
  Partial& partial = entry->second;
  if (header.chunk_offset != partial.received || chunk_bytes == 0 ||
      chunk_bytes > partial.header.payload_length - partial.received) {
    return protocol_error(str_cat("continuation of call id ", header.call_id, " brings bytes [",
                                  header.chunk_offset, ", +", chunk_bytes, ") but ",
                                  partial.received, " of ", partial.header.payload_length,
                                  " have arrived"));
  }
  chunk_target_ = key;
  chunk_destination_ = partial.payload.get() + partial.received;
  chunk_remaining_ = chunk_bytes;
  state_ = State::kChunk;
  return Status::ok();
}

Status FrameReader::on_chunk_complete(Sink& sink) {
  state_ = State::kPrefix;
  auto entry = partials_.find(chunk_target_);
  HIVE_NET_CHECK(entry != partials_.end(), "chunk without its message");
  Partial& partial = entry->second;
  partial.received = static_cast<uint64_t>(chunk_destination_ - partial.payload.get());
  if (partial.received == partial.header.payload_length) finish_message(chunk_target_, sink);
  return Status::ok();
}

void FrameReader::finish_message(PartialKey key, Sink& sink) {
  auto node = partials_.extract(key);
  Partial& partial = node.mapped();
  pending_bytes_ -= partial.header.payload_length;
  if (budget_) budget_->used -= partial.header.payload_length;
  deliver(std::move(partial.header), std::move(partial.payload), sink);
}

void FrameReader::deliver(FrameHeader header, std::shared_ptr<std::byte[]> payload, Sink& sink) {
  Message message;
  message.metadata = std::move(header.metadata);
  message.tensors.reserve(header.tensors.size());
  std::shared_ptr<const void> owner = payload;
  for (TensorLayout& layout : header.tensors) {
    std::span<const std::byte> bytes(payload.get() + layout.offset, layout.length);
    message.tensors.push_back(WireTensor{std::move(layout.descriptor), layout.compression, bytes, owner});
  }
  header.tensors.clear();
  sink.on_message(std::move(header), std::move(message));
}

namespace {
class DatagramSink final : public FrameReader::Sink {
 public:
  void on_message(FrameHeader header, Message message) override {
    ++count;
    decoded = DecodedDatagram{std::move(header), std::move(message)};
  }
  void on_control(FrameHeader header) override {
    ++count;
    decoded = DecodedDatagram{std::move(header), Message{}};
  }
  int count = 0;
  std::optional<DecodedDatagram> decoded;
};
}  // namespace

Result<DecodedDatagram> decode_datagram(std::span<const std::byte> datagram,
                                        const FrameLimits& limits) {
  // A datagram cannot announce more payload than it carries: a 100-byte datagram claiming a
  // gigabyte must not cost a gigabyte.
  FrameLimits datagram_limits = limits;
  datagram_limits.max_message_bytes = std::min<uint64_t>(limits.max_message_bytes, datagram.size());
  FrameReader reader(datagram_limits);
  DatagramSink sink;
  Status status = reader.consume(datagram, sink);
  if (!status.is_ok()) return status;
  if (sink.count != 1 || reader.mid_message()) {
    return protocol_error(str_cat("datagram of ", datagram.size(),
                                  " bytes is not exactly one complete message"));
  }
  return std::move(*sink.decoded);
}

}  // namespace hive::net
