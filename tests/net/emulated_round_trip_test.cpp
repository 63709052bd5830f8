// EndpointOptions::emulated_round_trip over real loopback sockets: replies to TCP and datagram
// calls reach the caller only after the round trip, in order; cancelling or shutting down still
// ends a call at once, whether its reply is in flight or already held.
#include <chrono>
#include <future>
#include <vector>

#include <gtest/gtest.h>

#include "net/rpc/endpoint.h"
#include "tests/net/net_test_util.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;
using testing::float_message;
using testing::identity_from_seed;
using testing::text_of;

EndpointOptions with_round_trip(std::chrono::milliseconds round_trip) {
  EndpointOptions options;
  options.emulated_round_trip = round_trip;
  return options;
}

class EmulatedRoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.register_handler("echo", [](IncomingCall call) {
      call.responder->respond(std::move(call.request));
    });
    auto bound = server_.listen("127.0.0.1:0");
    ASSERT_TRUE(bound.is_ok()) << bound.status().to_string();
    address_ = bound.value();
    ASSERT_TRUE(client_.listen("127.0.0.1:0").is_ok());
  }

  static constexpr std::chrono::milliseconds kRoundTrip{150};
  EventLoop loop_;
  Endpoint server_{loop_, identity_from_seed(1)};
  Endpoint client_{loop_, identity_from_seed(2), with_round_trip(kRoundTrip)};
  SocketAddress address_;
};

TEST_F(EmulatedRoundTripTest, TcpReplyArrivesAfterTheRoundTrip) {
  const auto start = std::chrono::steady_clock::now();
  Result<Reply> reply = client_.call_async(address_, "echo", float_message({1.0f}, "tcp")).get();
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(text_of(reply.value().message), "tcp");
  EXPECT_GE(waited, kRoundTrip);
}

TEST_F(EmulatedRoundTripTest, DatagramReplyArrivesAfterTheRoundTrip) {
  const auto start = std::chrono::steady_clock::now();
  Result<Reply> reply =
      client_.call_datagram_async(address_, "echo", float_message({2.0f}, "udp")).get();
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(text_of(reply.value().message), "udp");
  EXPECT_GE(waited, kRoundTrip);
}

TEST_F(EmulatedRoundTripTest, RepliesKeepTheOrderOfTheirCalls) {
  constexpr int kCalls = 8;
  std::vector<int> order;  // I/O thread only
  std::promise<void> all_done;
  loop_.run_sync([&] {
    for (int i = 0; i < kCalls; ++i) {
      client_.call(address_, "echo", float_message({static_cast<float>(i)}), CallOptions{},
                   [&, i](Result<Reply> reply) {
                     EXPECT_TRUE(reply.is_ok()) << reply.status().to_string();
                     order.push_back(i);
                     if (static_cast<int>(order.size()) == kCalls) all_done.set_value();
                   });
    }
  });
  all_done.get_future().get();
  loop_.run_sync([&] { EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7})); });
}

TEST_F(EmulatedRoundTripTest, CancelEndsTheCallAtOnce) {
  loop_.run_sync([&] {
    bool finished = false;
    const CallHandle handle = client_.call(address_, "echo", float_message({3.0f}), CallOptions{},
                                           [&](Result<Reply> reply) {
                                             finished = true;
                                             EXPECT_EQ(reply.status().code(), StatusCode::kCancelled);
                                           });
    client_.cancel(handle);
    EXPECT_TRUE(finished) << "cancel() must end the call before it returns";
  });
}

TEST_F(EmulatedRoundTripTest, ShutdownEndsCallsWhoseRepliesAreHeld) {
  Endpoint slow_client(loop_, identity_from_seed(3), with_round_trip(std::chrono::minutes(10)));
  std::promise<void> answered;
  server_.register_handler("echo_and_tell", [&](IncomingCall call) {
    call.responder->respond(std::move(call.request));
    answered.set_value();
  });
  std::future<Result<Reply>> reply =
      slow_client.call_async(address_, "echo_and_tell", float_message({4.0f}));
  answered.get_future().get();  // the reply is on its way or held: either way not delivered
  slow_client.shutdown();
  const Result<Reply> result = reply.get();
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().to_string();
}

}  // namespace
}  // namespace hive::net
