// libFuzzer target for the frame reader. Input: one selector byte, then the bytes a peer sends.
// The selector picks how the bytes reach a FrameReader (all at once, in pieces of one size, or
// copied into read_buffer() and committed as a socket would); the same bytes are also decoded
// as one datagram. Every field and tensor byte of what comes out is read (so ASan sees any stale
// or out-of-range pointer) and every tensor is decoded. Oracle: no crash, no leak, no undefined
// behaviour, and the chosen way of feeding gives the same messages, bytes and final status as
// feeding everything at once.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "net/wire/frame_reader.h"
#include "net/wire/message.h"

namespace hive::net {
namespace {

// Small enough that no input can make the reader allocate more than a few tens of MiB.
FrameLimits fuzz_limits() {
  FrameLimits limits;
  limits.max_header_bytes = 64u << 10;
  limits.max_frame_bytes = 1u << 20;
  limits.max_message_bytes = 4u << 20;
  limits.max_pending_receive_bytes = 16u << 20;
  limits.max_partial_messages = 16;
  limits.max_tensors = 256;
  return limits;
}

// FNV-1a over everything the reader hands out.
class Digest {
 public:
  void add(std::span<const std::byte> bytes) {
    for (std::byte byte : bytes) value_ = (value_ ^ static_cast<uint64_t>(byte)) * 0x100000001B3ull;
  }
  void add(uint64_t number) { add(std::as_bytes(std::span(&number, 1))); }
  void add(const std::string& text) { add(std::as_bytes(std::span(text.data(), text.size()))); }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0xCBF29CE484222325ull;
};

void add_header(Digest& digest, const FrameHeader& header) {
  digest.add(static_cast<uint64_t>(header.kind));
  digest.add(header.call_id);
  digest.add(header.method);
  digest.add(static_cast<uint64_t>(static_cast<uint32_t>(header.status_code)));
  digest.add(header.status_message);
  digest.add(header.timeout_ms);
  digest.add(header.metadata);
  digest.add(header.tensors.size());
  digest.add(header.payload_length);
  digest.add(header.chunk_offset);
  digest.add(static_cast<uint64_t>(header.continues));
  if (header.hello) {
    digest.add(header.hello->protocol_version);
    digest.add(header.hello->public_key);
    digest.add(header.hello->nonce);
  }
  if (header.proof) digest.add(*header.proof);
}

void add_message(Digest& digest, const Message& message) {
  digest.add(message.metadata);
  for (const WireTensor& tensor : message.tensors) {
    // The reader promises 64-byte aligned tensors inside a buffer that `owner` keeps alive.
    if (reinterpret_cast<uintptr_t>(tensor.bytes.data()) % kSegmentAlignment != 0 ||
        (!tensor.bytes.empty() && tensor.owner == nullptr)) {
      std::fprintf(stderr, "tensor of %zu bytes is unaligned or has no owner\n",
                   tensor.bytes.size());
      std::abort();
    }
    digest.add(static_cast<uint64_t>(tensor.descriptor.dtype));
    for (int64_t dim : tensor.descriptor.shape) digest.add(static_cast<uint64_t>(dim));
    digest.add(static_cast<uint64_t>(tensor.compression));
    digest.add(tensor.bytes);
    // A peer's bytes must decode or be refused, never crash the codec.
    auto raw = decode_wire_tensor(tensor);
    digest.add(raw.is_ok() ? raw.value() : std::vector<std::byte>{});
  }
}

class DigestSink final : public FrameReader::Sink {
 public:
  void on_message(FrameHeader header, Message message) override {
    add_header(digest, header);
    add_message(digest, message);
  }
  void on_control(FrameHeader header) override { add_header(digest, header); }
  Digest digest;
};

enum class Feeding { kAtOnce, kPieces, kReadBuffer };

struct Outcome {
  uint64_t digest = 0;
  StatusCode code = StatusCode::kOk;
  std::string message;
  bool mid_message = false;
};

Outcome read(std::span<const std::byte> bytes, Feeding feeding, size_t piece) {
  const FrameLimits limits = fuzz_limits();
  FrameReader reader(limits);
  DigestSink sink;
  Status status;
  size_t position = 0;
  while (position < bytes.size() && status.is_ok()) {
    size_t take = bytes.size() - position;
    if (feeding == Feeding::kAtOnce) {
      status = reader.consume(bytes, sink);
    } else if (feeding == Feeding::kPieces) {
      take = std::min(take, piece);
      status = reader.consume(bytes.subspan(position, take), sink);
    } else {
      std::span<std::byte> buffer = reader.read_buffer();
      take = std::min({take, piece, buffer.size()});
      std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(position), take, buffer.begin());
      status = reader.commit_read(take, sink);
    }
    position += take;
    if (reader.pending_receive_bytes() > limits.max_pending_receive_bytes) {
      std::fprintf(stderr, "%llu pending bytes above the limit\n",
                   static_cast<unsigned long long>(reader.pending_receive_bytes()));
      std::abort();
    }
  }
  return Outcome{sink.digest.value(), status.code(), status.message(), reader.mid_message()};
}

void expect_same(const Outcome& actual, const Outcome& expected, const char* feeding) {
  if (actual.digest == expected.digest && actual.code == expected.code &&
      actual.message == expected.message && actual.mid_message == expected.mid_message) {
    return;
  }
  std::fprintf(stderr,
               "%s differs from feeding at once: digest %llx vs %llx, status '%s' vs '%s'\n",
               feeding, static_cast<unsigned long long>(actual.digest),
               static_cast<unsigned long long>(expected.digest), actual.message.c_str(),
               expected.message.c_str());
  std::abort();
}

void decode_as_datagram(std::span<const std::byte> bytes) {
  auto decoded = decode_datagram(bytes, fuzz_limits());
  if (!decoded.is_ok()) return;
  Digest digest;
  add_header(digest, decoded.value().header);
  add_message(digest, decoded.value().message);
}

}  // namespace
}  // namespace hive::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hive::net;
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  // Pieces of 1 to 86 bytes, or (top values) 4 KiB, so both byte-level and bulk paths run.
  const size_t piece = selector / 3 < 85 ? selector / 3 + 1u : 4096u;
  const Outcome at_once = read(bytes, Feeding::kAtOnce, 0);
  switch (selector % 3) {
    case 0:
      break;
    case 1:
      expect_same(read(bytes, Feeding::kPieces, piece), at_once, "pieces");
      break;
    case 2:
      expect_same(read(bytes, Feeding::kReadBuffer, piece), at_once, "read_buffer");
      break;
  }
  decode_as_datagram(bytes);
  return 0;
}
