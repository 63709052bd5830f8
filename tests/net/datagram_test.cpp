// Datagram RPC over real UDP on loopback: small calls, retries of lost datagrams, the "reply too
// large, repeat over TCP" path, requests too large for a datagram, and malformed datagrams.
#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "net/rpc/endpoint.h"
#include "tests/net/net_test_util.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;
using testing::float_message;
using testing::floats_of;
using testing::identity_from_seed;
using testing::text_of;

class DatagramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.register_handler("echo", [this](IncomingCall call) {
      transports_.push_back(call.transport);
      call.responder->respond(std::move(call.request));
    });
    auto bound = server_.listen("127.0.0.1:0");
    ASSERT_TRUE(bound.is_ok()) << bound.status().to_string();
    address_ = bound.value();
    ASSERT_TRUE(client_.listen("127.0.0.1:0").is_ok());
  }

  EventLoop loop_;
  Endpoint server_{loop_, identity_from_seed(1)};
  Endpoint client_{loop_, identity_from_seed(2)};
  SocketAddress address_;
  std::vector<Transport> transports_;  // I/O thread only
};

TEST_F(DatagramTest, SmallCallGoesOverUdp) {
  Result<Reply> reply = client_.call_datagram_async(address_, "echo", float_message({4.0f, 5.0f}, "ping")).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(text_of(reply.value().message), "ping");
  EXPECT_EQ(floats_of(reply.value().message.tensors[0]), (std::vector<float>{4.0f, 5.0f}));
  EXPECT_TRUE(reply.value().peer.id.is_zero());  // datagrams prove no identity
  loop_.run_sync([&] { EXPECT_EQ(transports_, std::vector<Transport>{Transport::kDatagram}); });
  EXPECT_EQ(server_.stats().connections_accepted, 0u);
}

TEST_F(DatagramTest, ReplyTooLargeForADatagramIsRepeatedOverTcp) {
  server_.register_handler("big", [](IncomingCall call) {
    call.responder->respond(float_message(std::vector<float>(20000, 1.0f)));
  });
  Result<Reply> reply = client_.call_datagram_async(address_, "big", Message{}).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(floats_of(reply.value().message.tensors[0]).size(), 20000u);
  EXPECT_EQ(reply.value().peer.id, identity_from_seed(1).peer_id());  // came over TCP
  EXPECT_EQ(server_.stats().connections_accepted, 1u);
}

TEST_F(DatagramTest, RequestTooLargeForADatagramGoesOverTcp) {
  Result<Reply> reply =
      client_.call_datagram_async(address_, "echo", float_message(std::vector<float>(50000, 2.0f))).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  loop_.run_sync([&] { EXPECT_EQ(transports_, std::vector<Transport>{Transport::kTcp}); });
}

TEST_F(DatagramTest, UnansweredAttemptsAreRetried) {
  std::vector<std::shared_ptr<Responder>> ignored;  // I/O thread only
  server_.register_handler("flaky", [&](IncomingCall call) {
    // The first attempt is "lost": held, never answered. The retry is answered.
    if (ignored.empty()) {
      ignored.push_back(call.responder);
      return;
    }
    call.responder->respond(float_message({7.0f}));
  });
  CallOptions options;
  options.timeout = 3s;  // 3 attempts, 1 s apart
  Result<Reply> reply = client_.call_datagram_async(address_, "flaky", Message{}, options).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(floats_of(reply.value().message.tensors[0]), std::vector<float>{7.0f});
  loop_.run_sync([&] { ignored.clear(); });
}

TEST_F(DatagramTest, NoAnswerTimesOutAfterEveryAttempt) {
  Endpoint silent(loop_, identity_from_seed(3));
  auto silent_address = silent.listen("127.0.0.1:0");
  ASSERT_TRUE(silent_address.is_ok());
  std::vector<std::shared_ptr<Responder>> held;
  silent.register_handler("void", [&](IncomingCall call) { held.push_back(call.responder); });
  CallOptions options;
  options.timeout = 150ms;
  const auto start = std::chrono::steady_clock::now();
  Result<Reply> reply = client_.call_datagram_async(silent_address.value(), "void", Message{}, options).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 140ms);
  loop_.run_sync([&] {
    EXPECT_EQ(held.size(), 3u);  // every attempt reached the handler
    held.clear();
  });
}

TEST_F(DatagramTest, MalformedDatagramsAreDroppedAndCounted) {
  testing::RawSocket raw(address_, SOCK_DGRAM);
  const std::vector<std::byte> garbage(100, std::byte{0x5A});
  raw.send_all(garbage);
  const std::vector<std::byte> truncated_prefix(6, std::byte{0});
  raw.send_all(truncated_prefix);
  // Datagrams on loopback arrive in order, so once a later call is answered both were handled.
  ASSERT_TRUE(client_.call_datagram_async(address_, "echo", float_message({1.0f})).get().is_ok());
  EXPECT_EQ(server_.stats().datagrams_dropped_bad_input, 2u);
}

TEST_F(DatagramTest, ErrorsTravelBackOverUdp) {
  Result<Reply> reply = client_.call_datagram_async(address_, "missing", Message{}).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hive::net
