// Peers that send garbage, lie about lengths, stall mid-frame or cannot sign: each such
// connection is closed with a logged reason and a counter, and the server keeps serving others.
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "net/rpc/endpoint.h"
#include "net/wire/frame.h"
#include "tests/net/net_test_util.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;
using testing::float_message;
using testing::identity_from_seed;
using testing::frame_bytes;
using testing::hello_from;
using testing::RawSocket;
using testing::read_frame_header;

void put_u32(std::vector<std::byte>& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}

FrameHeader request_with_tensor(std::vector<int64_t> shape, uint64_t offset, uint64_t length,
                                uint64_t payload_length) {
  FrameHeader header;
  header.kind = FrameKind::kRequest;
  header.call_id = 1;
  header.method = "echo";
  header.tensors.push_back(TensorLayout{TensorDescriptor{WireDType::kF32, std::move(shape)},
                                        Compression::kNone, offset, length});
  header.payload_length = payload_length;
  return header;
}

struct BadFrame {
  const char* name;
  std::vector<std::byte> (*make)();
};

const BadFrame kBadFrames[] = {
    {"RandomBytes",
     [] {
       std::mt19937 random(11);
       std::vector<std::byte> bytes(4096);
       for (auto& byte : bytes) byte = static_cast<std::byte>(random());
       return bytes;
     }},
    {"DeclaredLengthAboveTheLimit",
     [] {
       std::vector<std::byte> bytes(8, std::byte{0});
       put_u32(bytes, 0, 0xFFFFFFF0u);
       put_u32(bytes, 4, 64);
       return bytes;
     }},
    {"WrongFileIdentifier",
     [] {
       FrameHeader header;
       header.kind = FrameKind::kCancel;
       std::vector<std::byte> bytes = frame_bytes(header, 0);
       std::memcpy(bytes.data() + kFramePrefixBytes + 4, "NOPE", 4);
       return bytes;
     }},
    {"HeaderFailsVerification",
     [] {
       FrameHeader header = request_with_tensor({4}, 0, 16, 16);
       std::vector<std::byte> bytes = frame_bytes(header, 16);
       // Corrupt the root table offset so that it points outside the buffer.
       put_u32(bytes, kFramePrefixBytes, 0x7FFFFFF0u);
       return bytes;
     }},
    {"TensorOutsideThePayload", [] { return frame_bytes(request_with_tensor({4}, 64, 16, 16), 16); }},
    {"ShapeOverflows",
     [] { return frame_bytes(request_with_tensor({int64_t{1} << 40, int64_t{1} << 40}, 0, 16, 16), 16); }},
    {"HandshakeSkipped",
     [] {
       FrameHeader header = request_with_tensor({4}, 0, 16, 16);
       return frame_bytes(header, 16);
     }},
};

class BadInputTest : public ::testing::TestWithParam<BadFrame> {
 protected:
  void SetUp() override {
    server_.register_handler("echo", [](IncomingCall call) { call.responder->respond(std::move(call.request)); });
    auto bound = server_.listen("127.0.0.1:0");
    ASSERT_TRUE(bound.is_ok());
    address_ = bound.value();
  }

  EventLoop loop_;
  Endpoint server_{loop_, identity_from_seed(1)};
  Endpoint client_{loop_, identity_from_seed(2)};
  SocketAddress address_;
};

TEST_P(BadInputTest, ConnectionIsClosedCountedAndOthersAreStillServed) {
  Result<Reply> before = client_.call_async(address_, "echo", float_message({1.0f})).get();
  ASSERT_TRUE(before.is_ok());
  {
    RawSocket raw(address_);
    raw.send_all(GetParam().make());
    EXPECT_TRUE(raw.wait_for_close());
  }
  EXPECT_EQ(server_.stats().connections_rejected_bad_input, 1u);
  Result<Reply> after = client_.call_async(address_, "echo", float_message({2.0f})).get();
  EXPECT_TRUE(after.is_ok()) << after.status().to_string();
}

INSTANTIATE_TEST_SUITE_P(Frames, BadInputTest, ::testing::ValuesIn(kBadFrames),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(Handshake, PeerThatCannotSignIsRejected) {
  EventLoop loop;
  Endpoint server(loop, identity_from_seed(1));
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  // The impostor claims the key of identity 7 but does not hold it: its proof is made with 8.
  RawSocket raw(address.value());
  FrameHeader server_hello = read_frame_header(raw);
  ASSERT_TRUE(server_hello.hello.has_value());
  const Nonce impostor_nonce = random_nonce();
  raw.send_all(frame_bytes(hello_from(identity_from_seed(7), impostor_nonce), 0));
  FrameHeader proof;
  proof.kind = FrameKind::kProof;
  proof.proof = sign_handshake(identity_from_seed(8), impostor_nonce, server_hello.hello->public_key,
                               server_hello.hello->nonce);
  raw.send_all(frame_bytes(proof, 0));
  EXPECT_TRUE(raw.wait_for_close());
  EXPECT_EQ(server.stats().connections_rejected_handshake, 1u);
}

TEST(Handshake, ServerThatCannotSignFailsTheCallAsUnauthenticated) {
  // A fake server on a raw listening socket: says hello with identity 7, proves with 8.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in bind_address{};
  bind_address.sin_family = AF_INET;
  bind_address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bind_address), sizeof(bind_address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof(bind_address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&bind_address), &length);
  const SocketAddress address = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&bind_address));
  std::thread fake_server([listener] {
    const int connection = ::accept(listener, nullptr, nullptr);
    std::vector<std::byte> hello = frame_bytes(hello_from(identity_from_seed(7), random_nonce()), 0);
    ::send(connection, hello.data(), hello.size(), MSG_NOSIGNAL);
    FrameHeader proof;
    proof.kind = FrameKind::kProof;
    proof.proof = Signature{};
    std::vector<std::byte> proof_bytes = frame_bytes(proof, 0);
    ::send(connection, proof_bytes.data(), proof_bytes.size(), MSG_NOSIGNAL);
    char sink[4096];
    while (::recv(connection, sink, sizeof(sink), 0) > 0) {
    }
    ::close(connection);
  });
  {
    EventLoop loop;
    Endpoint client(loop, identity_from_seed(2));
    Result<Reply> reply = client.call_async(address, "echo", Message{}).get();
    EXPECT_EQ(reply.status().code(), StatusCode::kUnauthenticated) << reply.status().to_string();
  }
  fake_server.join();
  ::close(listener);
}

TEST(Stall, PeerThatStopsMidFrameIsCutOff) {
  EventLoop loop;
  EndpointOptions options;
  options.connection.stall_timeout = 100ms;
  options.connection.handshake_timeout = 20s;
  Endpoint server(loop, identity_from_seed(1), options);
  server.register_handler("echo", [](IncomingCall call) { call.responder->respond(std::move(call.request)); });
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  RawSocket staller(address.value());
  std::vector<std::byte> hello = frame_bytes(hello_from(identity_from_seed(5), random_nonce()), 0);
  staller.send_all(std::span(hello).first(hello.size() / 2));
  Endpoint client(loop, identity_from_seed(2));
  EXPECT_TRUE(client.call_async(address.value(), "echo", float_message({1.0f})).get().is_ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(staller.wait_for_close());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(server.stats().connections_stalled, 1u);
}

TEST(Handshake, OwnHelloReflectedBackIsRejected) {
  EventLoop loop;
  Endpoint server(loop, identity_from_seed(1));
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  RawSocket raw(address.value());
  FrameHeader server_hello = read_frame_header(raw);
  ASSERT_TRUE(server_hello.hello.has_value());
  raw.send_all(frame_bytes(server_hello, 0));
  EXPECT_TRUE(raw.wait_for_close());
  EXPECT_EQ(server.stats().connections_rejected_bad_input, 1u);
}

TEST(Stall, PeerThatSendsRequestsButNeverReadsIsCutOff) {
  EventLoop loop;
  EndpointOptions options;
  options.connection.writer_limits.max_queued_bytes = 64 << 10;
  options.connection.stall_timeout = 200ms;
  Endpoint server(loop, identity_from_seed(1), options);
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  RawSocket raw(address.value());
  testing::complete_handshake(raw, identity_from_seed(7));
  // Requests for a method that does not exist: each costs the server an error reply that this
  // peer never reads. The server must stop reading (bounded queue), then give up on the peer.
  std::vector<std::byte> requests;
  for (uint64_t call = 1; call <= 200000; ++call) {
    FrameHeader request;
    request.kind = FrameKind::kRequest;
    request.call_id = call;
    request.method = "no-such-method";
    std::vector<std::byte> frame = frame_bytes(request, 0);
    requests.insert(requests.end(), frame.begin(), frame.end());
  }
  raw.send_all(requests);  // returns once the server hangs up
  EXPECT_TRUE(raw.wait_for_close());
  EXPECT_EQ(server.stats().connections_stalled, 1u);
}

}  // namespace
}  // namespace hive::net
