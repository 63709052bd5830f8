// Shared helpers for net's tests: deterministic identities, float tensors in messages, and raw
// POSIX sockets that play a misbehaving peer.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "net/identity/identity.h"
#include "net/rpc/endpoint.h"
#include "net/wire/frame.h"
#include "net/wire/message.h"

namespace hive::net::testing {

inline Identity identity_from_seed(uint8_t seed) {
  std::array<std::byte, 32> bytes{};
  bytes.fill(std::byte{seed});
  return Identity::from_seed(bytes);
}

inline std::span<const std::byte> as_bytes_of(const std::vector<float>& values) {
  return std::as_bytes(std::span(values));
}

// A message with metadata `text` and one f32 tensor of `values` shaped [values.size()].
inline Message float_message(const std::vector<float>& values, std::string_view text = "") {
  Message message;
  message.metadata.resize(text.size());
  if (!text.empty()) std::memcpy(message.metadata.data(), text.data(), text.size());
  auto tensor = copy_wire_tensor(TensorDescriptor{WireDType::kF32, {static_cast<int64_t>(values.size())}},
                                 as_bytes_of(values));
  EXPECT_TRUE(tensor.is_ok()) << tensor.status().to_string();
  message.tensors.push_back(std::move(tensor).value());
  return message;
}

inline std::vector<float> floats_of(const WireTensor& tensor) {
  auto raw = decode_wire_tensor(tensor);
  EXPECT_TRUE(raw.is_ok()) << raw.status().to_string();
  std::vector<float> values(raw.value().size() / sizeof(float));
  std::memcpy(values.data(), raw.value().data(), raw.value().size());
  return values;
}

inline std::string text_of(const Message& message) {
  return std::string(reinterpret_cast<const char*>(message.metadata.data()), message.metadata.size());
}

// A blocking TCP socket from the test thread, for peers that misbehave on purpose.
class RawSocket {
 public:
  explicit RawSocket(const SocketAddress& to, int type = SOCK_STREAM) {
    fd_ = ::socket(to.get()->sa_family, type, 0);
    EXPECT_GE(fd_, 0);
    timeval timeout{20, 0};  // a safety net: the server is expected to act long before
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    const socklen_t length = to.get()->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    EXPECT_EQ(::connect(fd_, to.get(), length), 0) << std::strerror(errno);
  }
  ~RawSocket() { ::close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void send_all(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return;  // the server may already have hung up: that is allowed
      bytes = bytes.subspan(static_cast<size_t>(sent));
    }
  }
  // Reads until the peer closes; true when it did (rather than the safety timeout firing).
  bool wait_for_close() {
    std::vector<char> sink(65536);
    while (true) {
      const ssize_t got = ::recv(fd_, sink.data(), sink.size(), 0);
      if (got == 0) return true;
      if (got < 0) return errno == ECONNRESET;
    }
  }
  // Reads exactly `count` bytes (or fewer if the peer closes).
  std::vector<std::byte> read_exactly(size_t count) {
    std::vector<std::byte> bytes(count);
    size_t have = 0;
    while (have < count) {
      const ssize_t got = ::recv(fd_, bytes.data() + have, count - have, 0);
      if (got <= 0) break;
      have += static_cast<size_t>(got);
    }
    bytes.resize(have);
    return bytes;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A frame with `payload_bytes` zero bytes of payload after its header.
inline std::vector<std::byte> frame_bytes(const FrameHeader& header, size_t payload_bytes = 0) {
  std::vector<std::byte> bytes = encode_frame_prefix(header, payload_bytes);
  bytes.resize(bytes.size() + payload_bytes, std::byte{0});
  return bytes;
}

inline FrameHeader hello_from(const Identity& identity, const Nonce& nonce) {
  FrameHeader hello;
  hello.kind = FrameKind::kHello;
  hello.hello = HelloFields{kProtocolVersion, identity.public_key(), nonce};
  return hello;
}

// Reads one whole frame from a raw socket and decodes its header.
inline FrameHeader read_frame_header(RawSocket& raw) {
  std::vector<std::byte> prefix = raw.read_exactly(kFramePrefixBytes);
  EXPECT_EQ(prefix.size(), kFramePrefixBytes);
  if (prefix.size() != kFramePrefixBytes) return FrameHeader{};
  uint32_t frame_length = 0;
  uint32_t header_length = 0;
  for (int i = 3; i >= 0; --i) {
    frame_length = (frame_length << 8) | static_cast<uint32_t>(prefix[i]);
    header_length = (header_length << 8) | static_cast<uint32_t>(prefix[4 + i]);
  }
  std::vector<std::byte> rest = raw.read_exactly(frame_length + 4 - kFramePrefixBytes);
  auto header = decode_frame_header(std::span(rest).first(std::min<size_t>(header_length, rest.size())),
                                    FrameLimits{});
  EXPECT_TRUE(header.is_ok()) << header.status().to_string();
  return header.is_ok() ? std::move(header).value() : FrameHeader{};
}

// Runs a correct handshake as `identity` over a raw socket, checking the server's proof.
inline void complete_handshake(RawSocket& raw, const Identity& identity) {
  FrameHeader server_hello = read_frame_header(raw);
  ASSERT_TRUE(server_hello.hello.has_value());
  const Nonce nonce = random_nonce();
  raw.send_all(frame_bytes(hello_from(identity, nonce)));
  FrameHeader proof;
  proof.kind = FrameKind::kProof;
  proof.proof = sign_handshake(identity, nonce, server_hello.hello->public_key, server_hello.hello->nonce);
  raw.send_all(frame_bytes(proof));
  FrameHeader server_proof = read_frame_header(raw);
  ASSERT_TRUE(server_proof.proof.has_value());
  EXPECT_TRUE(verify_handshake(server_hello.hello->public_key, server_hello.hello->nonce, identity, nonce,
                               *server_proof.proof));
}

}  // namespace hive::net::testing
