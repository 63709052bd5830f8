// A 256 MiB tensor through one call: it arrives intact, in chunks, and peak memory stays near
// the two copies that must exist (the sender's tensor and the receiver's buffer) instead of
// growing with extra copies of the payload.
#include <sys/resource.h>

#include <numeric>

#include <gtest/gtest.h>

#include "net/rpc/endpoint.h"
#include "tests/net/net_test_util.h"

namespace hive::net {
namespace {

using namespace std::chrono_literals;

uint64_t peak_rss_bytes() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

// Order-sensitive checksum of 32-bit words.
uint64_t checksum(std::span<const std::byte> bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    uint32_t word = 0;
    std::memcpy(&word, bytes.data() + i, 4);
    sum = sum * 31 + word;
  }
  return sum;
}

TEST(LargeTransfer, Tensor256MiBArrivesIntactWithBoundedPeakMemory) {
  constexpr size_t kBytes = 256ull << 20;
  EventLoop server_loop;
  EventLoop client_loop;
  Endpoint server(server_loop, testing::identity_from_seed(1));
  server.register_handler("checksum", [](IncomingCall call) {
    Message reply;
    const uint64_t sum = checksum(call.request.tensors.at(0).bytes);
    reply.metadata.resize(sizeof(sum));
    std::memcpy(reply.metadata.data(), &sum, sizeof(sum));
    call.responder->respond(std::move(reply));
  });
  auto address = server.listen("127.0.0.1:0");
  ASSERT_TRUE(address.is_ok());
  Endpoint client(client_loop, testing::identity_from_seed(2));

  const uint64_t baseline = peak_rss_bytes();
  auto values = std::make_shared<std::vector<uint32_t>>(kBytes / 4);
  std::iota(values->begin(), values->end(), 12345u);
  const uint64_t expected = checksum(std::as_bytes(std::span(*values)));
  Message request;
  auto tensor = make_wire_tensor(TensorDescriptor{WireDType::kI32, {static_cast<int64_t>(values->size())}},
                                 std::as_bytes(std::span(*values)), values, Compression::kNone);
  ASSERT_TRUE(tensor.is_ok());
  request.tensors.push_back(std::move(tensor).value());
  values.reset();  // the message owns the tensor now

  CallOptions options;
  options.timeout = 120s;
  Result<Reply> reply = client.call_async(address.value(), "checksum", std::move(request), options).get();
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  uint64_t sum = 0;
  ASSERT_EQ(reply.value().message.metadata.size(), sizeof(sum));
  std::memcpy(&sum, reply.value().message.metadata.data(), sizeof(sum));
  EXPECT_EQ(sum, expected);

  const uint64_t growth = peak_rss_bytes() - baseline;
  std::printf("peak memory growth: %.1f MiB for a %zu MiB transfer\n", growth / 1048576.0, kBytes >> 20);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "peak memory is not meaningful under sanitizers";
#else
  EXPECT_LE(growth, 2 * kBytes + (64ull << 20));
#endif
}

}  // namespace
}  // namespace hive::net
