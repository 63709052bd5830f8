// RPC over real TCP sockets on loopback: many concurrent calls, deadlines, cancellation, errors
// that travel back, identity checks, connection reuse, chunked large payloads and shutdown.
#include <atomic>
#include <chrono>
#include <future>
#include <random>

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

// Answers every call with its request unchanged.
void echo(IncomingCall call) { call.responder->respond(std::move(call.request)); }

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.register_handler("echo", echo);
    auto bound = server_.listen("127.0.0.1:0");
    ASSERT_TRUE(bound.is_ok()) << bound.status().to_string();
    address_ = bound.value();
  }

  EventLoop loop_;
  Endpoint server_{loop_, identity_from_seed(1)};
  Endpoint client_{loop_, identity_from_seed(2)};
  SocketAddress address_;
};

TEST_F(RpcTest, EchoReturnsTensorsAndMetadataAndVerifiedPeer) {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f};
  Result<Reply> reply = client_.call_async(address_, "echo", float_message(values, "hello")).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(text_of(reply.value().message), "hello");
  ASSERT_EQ(reply.value().message.tensors.size(), 1u);
  EXPECT_EQ(floats_of(reply.value().message.tensors[0]), values);
  EXPECT_EQ(reply.value().peer.id, identity_from_seed(1).peer_id());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(reply.value().message.tensors[0].bytes.data()) % 64, 0u);
}

TEST_F(RpcTest, ThousandConcurrentCallsOverEightConnectionsAllAnswered) {
  std::vector<std::unique_ptr<Endpoint>> clients;
  for (uint8_t i = 0; i < 8; ++i) clients.push_back(std::make_unique<Endpoint>(loop_, identity_from_seed(10 + i)));
  std::vector<std::future<Result<Reply>>> replies;
  for (int call = 0; call < 1000; ++call) {
    std::vector<float> values(1 + call % 17, static_cast<float>(call));
    replies.push_back(clients[call % 8]->call_async(address_, "echo", float_message(values, std::to_string(call)),
                                                    CallOptions{60s, {}}));
  }
  for (int call = 0; call < 1000; ++call) {
    Result<Reply> reply = replies[call].get();
    ASSERT_TRUE(reply.is_ok()) << call << ": " << reply.status().to_string();
    EXPECT_EQ(text_of(reply.value().message), std::to_string(call));
    EXPECT_EQ(floats_of(reply.value().message.tensors[0]),
              std::vector<float>(1 + call % 17, static_cast<float>(call)));
  }
  EXPECT_EQ(server_.stats().connections_accepted, 8u);
  for (auto& client : clients) client->shutdown();
}

TEST_F(RpcTest, ConnectionIsReusedForCallsToTheSamePeer) {
  for (int call = 0; call < 10; ++call) {
    ASSERT_TRUE(client_.call_async(address_, "echo", float_message({1.0f})).get().is_ok());
  }
  EXPECT_EQ(server_.stats().connections_accepted, 1u);
}

TEST_F(RpcTest, DeadlineExpiresWhenTheHandlerIsSlow) {
  std::promise<std::shared_ptr<Responder>> held;
  server_.register_handler("hold", [&](IncomingCall call) { held.set_value(call.responder); });
  CallOptions options;
  options.timeout = 100ms;
  const auto start = std::chrono::steady_clock::now();
  Result<Reply> reply = client_.call_async(address_, "hold", Message{}, options).get();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().to_string();
  EXPECT_NE(reply.status().message().find("'hold'"), std::string::npos);
  EXPECT_GE(waited, 90ms);
  // The late answer goes nowhere and breaks nothing.
  std::shared_ptr<Responder> responder = held.get_future().get();
  responder->respond(Message{});
  EXPECT_TRUE(client_.call_async(address_, "echo", float_message({2.0f})).get().is_ok());
}

TEST_F(RpcTest, CancellationFailsTheCallAndReachesTheServer) {
  std::promise<void> started;
  std::promise<void> server_saw_cancel;
  std::shared_ptr<Responder> held;  // I/O thread only
  server_.register_handler("hold", [&](IncomingCall call) {
    held = call.responder;
    held->set_on_cancel([&] { server_saw_cancel.set_value(); });
    started.set_value();
  });
  std::promise<Result<Reply>> reply;
  CallHandle handle = loop_.run_sync([&] {
    CallOptions options;
    options.timeout = 10s;
    return client_.call(address_, "hold", Message{}, options,
                        [&](Result<Reply> result) { reply.set_value(std::move(result)); });
  });
  started.get_future().get();
  loop_.run_sync([&] { client_.cancel(handle); });
  EXPECT_EQ(reply.get_future().get().status().code(), StatusCode::kCancelled);
  server_saw_cancel.get_future().get();
  loop_.run_sync([&] { held.reset(); });
}

TEST_F(RpcTest, HandlerErrorTravelsBackWithCodeAndMessage) {
  server_.register_handler("fail", [](IncomingCall call) {
    call.responder->respond(Status(StatusCode::kInvalidArgument, "rows 3 > max batch 2"));
  });
  Result<Reply> reply = client_.call_async(address_, "fail", Message{}).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status().message().find("rows 3 > max batch 2"), std::string::npos);
}

TEST_F(RpcTest, UnknownMethodIsNotFound) {
  Result<Reply> reply = client_.call_async(address_, "nope", Message{}).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kNotFound);
  EXPECT_NE(reply.status().message().find("'nope'"), std::string::npos);
}

TEST_F(RpcTest, HandlerExceptionAndDroppedResponderBecomeInternalErrors) {
  server_.register_handler("throw", [](IncomingCall) { throw std::runtime_error("boom"); });
  server_.register_handler("drop", [](IncomingCall) {});
  Result<Reply> thrown = client_.call_async(address_, "throw", Message{}).get();
  EXPECT_EQ(thrown.status().code(), StatusCode::kInternal);
  EXPECT_NE(thrown.status().message().find("boom"), std::string::npos);
  Result<Reply> dropped = client_.call_async(address_, "drop", Message{}).get();
  EXPECT_EQ(dropped.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(client_.call_async(address_, "echo", float_message({1.0f})).get().is_ok());
}

TEST_F(RpcTest, ConnectionRefusedIsUnavailable) {
  auto closed = SocketAddress::parse("127.0.0.1:1");
  ASSERT_TRUE(closed.is_ok());
  Result<Reply> reply = client_.call_async(closed.value(), "echo", Message{}).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(reply.status().message().find("ECONNREFUSED"), std::string::npos) << reply.status().message();
}

TEST_F(RpcTest, ExpectedPeerMismatchIsUnauthenticated) {
  CallOptions options;
  options.expected_peer = identity_from_seed(3).peer_id();
  Result<Reply> reply = client_.call_async(address_, "echo", Message{}, options).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kUnauthenticated);
  options.expected_peer = identity_from_seed(1).peer_id();
  EXPECT_TRUE(client_.call_async(address_, "echo", Message{}, options).get().is_ok());
}

TEST_F(RpcTest, ShutdownFailsPendingCallsWithAClearError) {
  std::promise<void> started;
  std::shared_ptr<Responder> held;
  server_.register_handler("hold", [&](IncomingCall call) {
    held = call.responder;
    started.set_value();
  });
  CallOptions options;
  options.timeout = 30s;
  auto reply = client_.call_async(address_, "hold", Message{}, options);
  started.get_future().get();
  client_.shutdown();
  Result<Reply> result = reply.get();
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("endpoint shutting down"), std::string::npos);
  EXPECT_EQ(client_.call_async(address_, "echo", Message{}).get().status().code(), StatusCode::kUnavailable);
  loop_.run_sync([&] { held.reset(); });
}

TEST_F(RpcTest, LargePayloadIsChunkedWhileSmallCallsKeepFlowing) {
  std::vector<float> big(16 << 20);  // 64 MiB, 16 chunks of 4 MiB
  std::mt19937 random(7);
  for (float& value : big) value = static_cast<float>(random() % 1000);
  CallOptions patient;  // sanitizer builds move 64 MiB slowly
  patient.timeout = 120s;
  auto big_reply = client_.call_async(address_, "echo", float_message(big, "big"), patient);
  std::vector<std::future<Result<Reply>>> small;
  for (int i = 0; i < 20; ++i) {
    small.push_back(client_.call_async(address_, "echo", float_message({float(i)}), patient));
  }
  for (int i = 0; i < 20; ++i) {
    Result<Reply> reply = small[i].get();
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(floats_of(reply.value().message.tensors[0]), std::vector<float>{float(i)});
  }
  Result<Reply> reply = big_reply.get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  const WireTensor& tensor = reply.value().message.tensors[0];
  ASSERT_EQ(tensor.bytes.size(), big.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(tensor.bytes.data(), big.data(), tensor.bytes.size()), 0);
}

TEST_F(RpcTest, CompressedTensorsRoundTripThroughTheWire) {
  std::vector<float> values(10000);
  std::mt19937 random(3);
  std::normal_distribution<float> normal;
  for (float& value : values) value = normal(random);
  Message message;
  auto tensor = copy_wire_tensor(TensorDescriptor{WireDType::kF32, {100, 100}}, testing::as_bytes_of(values),
                                 Compression::kBlockwise8Bit);
  ASSERT_TRUE(tensor.is_ok());
  message.tensors.push_back(std::move(tensor).value());
  Result<Reply> reply = client_.call_async(address_, "echo", std::move(message)).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(reply.value().message.tensors[0].compression, Compression::kBlockwise8Bit);
  std::vector<float> decoded = floats_of(reply.value().message.tensors[0]);
  ASSERT_EQ(decoded.size(), values.size());
  double squared_error = 0;
  for (size_t i = 0; i < values.size(); ++i) squared_error += (decoded[i] - values[i]) * (decoded[i] - values[i]);
  EXPECT_LE(squared_error / values.size(), 8e-4);
}

TEST(RpcOverload, FullSendQueueFailsCallsWithOverloaded) {
  EventLoop loop;
  EndpointOptions options;
  options.connection.writer_limits.max_queued_bytes = 1 << 20;
  Endpoint server(loop, identity_from_seed(1));
  server.register_handler("echo", echo);
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  Endpoint client(loop, identity_from_seed(2), options);
  std::vector<float> chunk(1 << 20);  // 4 MiB per call
  std::vector<std::future<Result<Reply>>> replies;
  loop.run_sync([&] {
    for (int i = 0; i < 12; ++i) {
      auto promise = std::make_shared<std::promise<Result<Reply>>>();
      replies.push_back(promise->get_future());
      client.call(address.value(), "echo", float_message(chunk), CallOptions{30s, {}},
                  [promise](Result<Reply> result) { promise->set_value(std::move(result)); });
    }
  });
  int overloaded = 0;
  int answered = 0;
  for (auto& reply : replies) {
    Result<Reply> result = reply.get();
    if (result.is_ok()) ++answered;
    if (result.status().code() == StatusCode::kOverloaded) {
      ++overloaded;
      EXPECT_NE(result.status().message().find("send queue"), std::string::npos);
    }
  }
  EXPECT_GT(overloaded, 0);
  EXPECT_GT(answered, 0);
  EXPECT_EQ(overloaded + answered, 12);
}

}  // namespace
}  // namespace hive::net
