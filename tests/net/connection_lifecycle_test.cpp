// Connection lifetimes seen from a raw socket: a peer that never finishes the handshake and a
// peer that goes quiet after it are both let go, after their respective timeouts.
#include <chrono>

#include <gtest/gtest.h>

#include "net/rpc/endpoint.h"
#include "net/wire/frame.h"
#include "tests/net/net_test_util.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;
using testing::identity_from_seed;
using testing::RawSocket;

TEST(ConnectionLifecycle, IdleConnectionIsClosedAfterTheIdleTimeout) {
  EventLoop loop;
  EndpointOptions options;
  options.connection.idle_timeout = 100ms;
  Endpoint server(loop, identity_from_seed(1), options);
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  RawSocket raw(address.value());
  testing::complete_handshake(raw, identity_from_seed(7));
  const auto handshake_done = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.wait_for_close());
  EXPECT_GE(std::chrono::steady_clock::now() - handshake_done, 90ms);
  EXPECT_EQ(server.stats().connections_rejected_bad_input, 0u);
}

TEST(ConnectionLifecycle, HandshakeNotCompletedInTimeIsClosed) {
  EventLoop loop;
  EndpointOptions options;
  options.connection.handshake_timeout = 100ms;
  Endpoint server(loop, identity_from_seed(1), options);
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  RawSocket raw(address.value());  // connects, then says nothing
  EXPECT_TRUE(raw.wait_for_close());
  EXPECT_EQ(server.stats().connections_rejected_handshake, 1u);
}

}  // namespace
}  // namespace hive::net
