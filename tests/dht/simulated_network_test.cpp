// The simulation's network and virtual time (tests/dht/sim): event order, cancellation,
// latencies, the datagram channel's retries and deadline, dead hosts.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/dht/dht_test_util.h"
#include "tests/dht/sim/simulated_network.h"

namespace hive::dht::sim {
namespace {

using namespace std::chrono_literals;
using testing::bytes;

constexpr DhtTime kStart = 1'700'000'000'000;

TEST(VirtualTime, EventsRunInTimeOrderAndTiesInSchedulingOrder) {
  VirtualTime time(kStart);
  std::string order;
  time.after(20ms, [&] { order += 'c'; });
  time.post(10ms, [&] { order += 'a'; });
  time.after(10ms, [&] { order += 'b'; });
  time.run_until(1s);
  EXPECT_EQ(order, "abc");
}

TEST(VirtualTime, CancelledTaskNeverRunsAndClockFollowsVirtualTime) {
  VirtualTime time(kStart);
  bool ran = false;
  const Scheduler::TaskId task = time.after(5ms, [&] { ran = true; });
  time.cancel(task);
  time.run_until(1500ms);
  EXPECT_FALSE(ran);
  EXPECT_EQ(time.now(), 1500ms);
  EXPECT_EQ(time.clock().now(), kStart + 1500);
}

class SimulatedNetworkTest : public ::testing::Test {
 protected:
  SimulatedNetworkTest() : network_(kStart, options()) {
    a_ = network_.add_host();
    b_ = network_.add_host();
    network_.transport(b_).serve("echo", [](DhtRequest request) { request.respond(std::move(request.bytes)); });
  }
  static NetworkOptions options() {
    NetworkOptions options;
    options.jitter = 0;  // exact latencies
    return options;
  }
  // Calls "echo" at `to` from a_ and runs the network until the call finishes.
  std::optional<net::Result<Bytes>> call(const net::SocketAddress& to, std::chrono::milliseconds timeout = 3000ms) {
    std::optional<net::Result<Bytes>> reply;
    network_.transport(a_).call(to, "echo", bytes("hi"), timeout, [&](net::Result<Bytes> result) {
      reply = std::move(result);
      finished_at_ = network_.time().now();
    });
    network_.time().run_until(60s, [&] { return reply.has_value(); });
    return reply;
  }

  SimulatedNetwork network_;
  HostId a_ = 0;
  HostId b_ = 0;
  std::chrono::microseconds finished_at_{0};
};

TEST_F(SimulatedNetworkTest, ReplyArrivesAfterTheRoundTripOfBothAccessLatencies) {
  auto reply = call(network_.address(b_));
  ASSERT_TRUE(reply && reply->is_ok());
  EXPECT_EQ(reply->value(), bytes("hi"));
  // Two one-way trips of (access(a) + access(b)) / 2 each, up to a microsecond of rounding each.
  const auto round_trip = network_.access_latency(a_) + network_.access_latency(b_);
  EXPECT_NEAR(static_cast<double>(finished_at_.count()), static_cast<double>(round_trip.count()), 2.0);
}

TEST_F(SimulatedNetworkTest, KilledHostIsABlackHoleUntilTheCallTimesOut) {
  network_.kill(b_);
  auto reply = call(network_.address(b_), 3000ms);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), net::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(finished_at_, 3000ms);
  EXPECT_EQ(network_.stats().datagrams_sent, 3u);  // the channel's three attempts
}

TEST_F(SimulatedNetworkTest, UnknownAddressTimesOutLikeADeadOne) {
  auto reply = call(net::SocketAddress::parse("192.0.2.1:4000").value(), 1200ms);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), net::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(finished_at_, 1200ms);
}

TEST_F(SimulatedNetworkTest, MethodNotServedIsAnsweredWithNotFound) {
  network_.transport(b_).stop_serving("echo");
  auto reply = call(network_.address(b_));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), net::StatusCode::kNotFound);
}

TEST(SimulatedNetwork, LostRequestIsRetriedWithinTheTimeout) {
  NetworkOptions options;
  options.loss = 0.5;
  options.seed = 3;
  SimulatedNetwork network(kStart, options);
  const HostId a = network.add_host();
  const HostId b = network.add_host();
  network.transport(b).serve("echo", [](DhtRequest request) { request.respond(std::move(request.bytes)); });
  size_t answered = 0;
  constexpr size_t kCalls = 1000;
  for (size_t i = 0; i < kCalls; ++i) {
    network.transport(a).call(network.address(b), "echo", bytes("hi"), 3000ms,
                              [&](net::Result<Bytes> reply) { answered += reply.is_ok(); });
  }
  network.time().run_until(10s);
  // One try gets through both ways with p = 1/4; three tries with 1 - (3/4)^3 = 58%.
  EXPECT_GT(answered, kCalls / 2);
  EXPECT_LT(answered, kCalls * 2 / 3);
}

}  // namespace
}  // namespace hive::dht::sim
