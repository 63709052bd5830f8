// Network benchmarks of hive_net over loopback: small-call latency, calls/s with many calls in
// flight and tensor-call throughput, next to plain POSIX TCP twins (blocking sockets, no framing,
// no event loop, one reused receive buffer) that are the limit the RPC layer is held against.
//
// bench/net_compare.py runs this program and writes the ratios to bench/results/net.json. A
// RawTcp* case and the RPC case it bounds move the same bytes with the same number of messages
// in flight; change both together.
//
// Setup: by default (`loops:2`) the server Endpoint and the client Endpoint run on their own
// EventLoops, so each side has its own I/O thread, as two processes would; `loops:1` puts both on
// one loop, whose single thread then does both sides. RPC calls are issued from the client's I/O
// thread, each next call from a reply callback, so no cross-thread wake-up is in the measured path;
// SmallCallRoundTripFromCaller instead pays one each way (call_async + future), as an
// application thread does. Every case is timed in wall-clock time, and every RPC case connects
// (TCP + identity handshake) and warms up before its timing starts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "net/core/check.h"
#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "net/wire/message.h"

namespace {

using hive::net::CallOptions;
using hive::net::Compression;
using hive::net::Endpoint;
using hive::net::EventLoop;
using hive::net::Identity;
using hive::net::IncomingCall;
using hive::net::Message;
using hive::net::Reply;
using hive::net::Result;
using hive::net::SocketAddress;
using hive::net::Status;
using hive::net::StatusCode;
using hive::net::TensorDescriptor;
using hive::net::WireDType;
using Clock = std::chrono::steady_clock;

constexpr size_t kSmallMetadataBytes = 64;
constexpr int64_t kMiB = int64_t{1} << 20;
// No call of a healthy run comes near it, not even a 64 MiB one queued behind others.
constexpr std::chrono::milliseconds kCallTimeout{60000};
// The server's one method: answers every request, whatever it carries, with an empty message.
constexpr const char* kAckMethod = "ack";

Identity identity_from_seed(uint8_t seed) {
  std::array<std::byte, 32> bytes{};
  bytes.fill(std::byte{seed});
  return Identity::from_seed(bytes);
}

// 64 bytes of opaque metadata and no tensors: a routing or control call.
Message small_request() {
  Message message;
  message.metadata.assign(kSmallMetadataBytes, std::byte{0x5a});
  return message;
}

// One f32 tensor [elements] pointing into `values` (kNone: not copied; the message shares
// ownership of the buffer until its bytes are on the socket, as an expert client's activations).
Message tensor_request(const std::shared_ptr<const std::vector<float>>& values) {
  Message message;
  auto tensor = hive::net::make_wire_tensor(
      TensorDescriptor{WireDType::kF32, {static_cast<int64_t>(values->size())}},
      std::as_bytes(std::span(*values)), values, Compression::kNone);
  HIVE_NET_CHECK(tensor.is_ok(), "make_wire_tensor: ", tensor.status().to_string());
  message.tensors.push_back(std::move(tensor).value());
  return message;
}

// Nearest-rank percentile `q` (0..1] of `sorted` latencies in ns, in microseconds.
double percentile_us(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1]) / 1e3;
}

void set_latency_counters(benchmark::State& state, std::vector<int64_t> latencies_ns) {
  std::sort(latencies_ns.begin(), latencies_ns.end());
  state.counters["p50_us"] = percentile_us(latencies_ns, 0.50);
  state.counters["p99_us"] = percentile_us(latencies_ns, 0.99);
}

// Bytes moved per second: bytes_per_second (Google Benchmark's own) and GB/s (10^9 bytes).
void set_throughput_counters(benchmark::State& state, int64_t bytes_per_iteration) {
  const int64_t bytes = state.iterations() * bytes_per_iteration;
  state.SetBytesProcessed(bytes);
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e9,
                                              benchmark::Counter::kIsRate);
}

// CPU time of the whole process (every thread: both I/O threads, or sender and receiver), in us.
double process_cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto us = [](const timeval& time) { return time.tv_sec * 1e6 + time.tv_usec; };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// Process CPU time per iteration over the timed loop: what one call or message costs the machine,
// both sides together. Less disturbed than wall time by other work on a shared machine.
class ProcessCpuCounter {
 public:
  ProcessCpuCounter() : start_us_(process_cpu_us()) {}
  void report(benchmark::State& state) const {
    if (state.iterations() == 0) return;
    const double used_us = process_cpu_us() - start_us_;
    state.counters["cpu_us"] = used_us / static_cast<double>(state.iterations());
  }

 private:
  double start_us_;
};

int64_t nanoseconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
}

// Google Benchmark times the whole loop. When the calls run on an I/O thread, the first
// iteration waits for all state.max_iterations of them and the others are empty: the reported
// Time is per call, and the benchmark thread wakes once per run, not once per call.
template <typename WaitForAll>
void run_all_iterations_at_once(benchmark::State& state, WaitForAll wait_for_all) {
  bool waited = false;
  for (auto _ : state) {
    if (waited) continue;
    waited = true;
    const Status status = wait_for_all(static_cast<uint64_t>(state.max_iterations));
    if (!status.is_ok()) {
      state.SkipWithError(status.to_string().c_str());
      break;
    }
  }
}

// --- RPC ---------------------------------------------------------------------------------------

// A server Endpoint with the "ack" method and a client Endpoint already connected to it, each on
// its own EventLoop (loops = 2) or both on one (loops = 1).
class RpcPair {
 public:
  explicit RpcPair(int loops)
      : server_loop_(std::make_unique<EventLoop>()),
        client_loop_(loops == 2 ? std::make_unique<EventLoop>() : nullptr),
        server_(std::make_unique<Endpoint>(*server_loop_, identity_from_seed(1))),
        client_(std::make_unique<Endpoint>(client_loop_ ? *client_loop_ : *server_loop_,
                                           identity_from_seed(2))) {
    HIVE_NET_CHECK(loops == 1 || loops == 2, "loops must be 1 or 2, got ", loops);
    server_->register_handler(kAckMethod,
                              [](IncomingCall call) { call.responder->respond(Message{}); });
    Result<SocketAddress> bound = server_->listen("127.0.0.1:0");
    if (!bound.is_ok()) {
      status_ = bound.status();
      return;
    }
    address_ = bound.value();
    // The first call makes the connection and runs the identity handshake.
    Result<Reply> first = client_->call_async(address_, kAckMethod, Message{}).get();
    if (!first.is_ok()) status_ = first.status();
  }
  ~RpcPair() {
    // Endpoints before the loops they run on.
    client_.reset();
    server_.reset();
  }
  RpcPair(const RpcPair&) = delete;
  RpcPair& operator=(const RpcPair&) = delete;

  const Status& status() const { return status_; }
  Endpoint& client() { return *client_; }
  const SocketAddress& address() const { return address_; }

 private:
  std::unique_ptr<EventLoop> server_loop_;
  std::unique_ptr<EventLoop> client_loop_;  // null with loops = 1
  std::unique_ptr<Endpoint> server_;
  std::unique_ptr<Endpoint> client_;
  SocketAddress address_;
  Status status_;
};

// Keeps `in_flight` calls outstanding from the client's I/O thread: each reply callback issues
// the next call, so that thread never waits for another. The benchmark thread only sleeps until
// a number of calls has completed. Each call's latency (issue to reply callback) is recorded.
class CallPipeline {
 public:
  using MakeRequest = std::function<Message()>;

  CallPipeline(Endpoint& client, SocketAddress to, MakeRequest make_request, int in_flight)
      : client_(client), to_(std::move(to)), make_request_(std::move(make_request)),
        in_flight_(in_flight) {
    options_.timeout = kCallTimeout;
    // Growing the vector would copy it on the I/O thread in the middle of a timed run.
    latencies_ns_.reserve(1 << 21);
  }
  ~CallPipeline() { stop(); }
  CallPipeline(const CallPipeline&) = delete;
  CallPipeline& operator=(const CallPipeline&) = delete;

  // Any thread but the I/O thread.
  void start() {
    client_.loop().post([this] {
      for (int i = 0; i < in_flight_; ++i) issue();
    });
  }
  // Calls completed since start(); they are counted in order, as their latencies are recorded.
  uint64_t completed() const { return completed_.load(); }
  // Blocks until `total` calls have completed since start(), or one has failed.
  Status wait_until_completed(uint64_t total) {
    std::unique_lock lock(mutex_);
    target_.store(total);
    changed_.wait(lock, [&] { return completed_.load() >= total || !error_.is_ok(); });
    return error_;
  }
  // Issues no more calls and waits until the outstanding ones have finished. Idempotent.
  void stop() {
    if (stopped_) return;
    client_.loop().post([this] {
      stopping_ = true;
      if (outstanding_ == 0) signal(/*drained=*/true);
    });
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return drained_; });
    stopped_ = true;
  }
  // After stop(): latencies of calls [first, first + count) in completion order, in ns.
  std::vector<int64_t> latencies_ns(uint64_t first, uint64_t count) const {
    HIVE_NET_CHECK(stopped_ && first + count <= latencies_ns_.size(), "latencies [", first, ", +",
                   count, ") of ", latencies_ns_.size());
    return {latencies_ns_.begin() + static_cast<ptrdiff_t>(first),
            latencies_ns_.begin() + static_cast<ptrdiff_t>(first + count)};
  }

 private:
  // I/O thread.
  void issue() {
    ++outstanding_;
    const Clock::time_point start = Clock::now();
    client_.call(to_, kAckMethod, make_request_(), options_, [this, start](Result<Reply> reply) {
      const Clock::time_point end = Clock::now();
      --outstanding_;
      if (!reply.is_ok()) {
        stopping_ = true;
        std::lock_guard lock(mutex_);
        if (error_.is_ok()) error_ = reply.status();
        drained_ = outstanding_ == 0;
        changed_.notify_all();
        return;
      }
      latencies_ns_.push_back(nanoseconds_between(start, end));
      const uint64_t completed = completed_.fetch_add(1) + 1;
      if (!stopping_) issue();
      if (completed >= target_.load()) signal(/*drained=*/false);
      if (stopping_ && outstanding_ == 0) signal(/*drained=*/true);
    });
  }
  // I/O thread. Wakes the benchmark thread; the last thing a reply callback does.
  void signal(bool drained) {
    std::lock_guard lock(mutex_);
    if (drained) drained_ = true;
    changed_.notify_all();
  }

  Endpoint& client_;
  SocketAddress to_;
  MakeRequest make_request_;
  int in_flight_;
  CallOptions options_;
  // I/O thread only while running; read by the benchmark thread after stop().
  int outstanding_ = 0;
  bool stopping_ = false;
  std::vector<int64_t> latencies_ns_;
  // Shared with the benchmark thread.
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> target_{UINT64_MAX};
  std::mutex mutex_;
  std::condition_variable changed_;
  Status error_;         // guarded by mutex_
  bool drained_ = false;  // guarded by mutex_
  bool stopped_ = false;  // benchmark thread only
};

// Runs `pipeline` for `warmup` calls, then times state.max_iterations calls (one per iteration)
// and returns their latencies; empty after an error (already reported to `state`).
std::vector<int64_t> time_pipeline(benchmark::State& state, CallPipeline& pipeline,
                                   uint64_t warmup) {
  pipeline.start();
  const Status warmed = pipeline.wait_until_completed(warmup);
  if (!warmed.is_ok()) {
    state.SkipWithError(warmed.to_string().c_str());
    return {};
  }
  uint64_t first = 0;
  const ProcessCpuCounter cpu;
  run_all_iterations_at_once(state, [&](uint64_t count) {
    first = pipeline.completed();
    return pipeline.wait_until_completed(first + count);
  });
  cpu.report(state);
  pipeline.stop();
  if (state.error_occurred()) return {};
  return pipeline.latencies_ns(first, static_cast<uint64_t>(state.iterations()));
}

// One small call at a time (64 B of metadata, empty reply), each issued from the previous one's
// reply callback on the client's I/O thread: the RPC layer's own round trip.
void SmallCallRoundTrip(benchmark::State& state) {
  RpcPair rpc(static_cast<int>(state.range(0)));
  if (!rpc.status().is_ok()) return state.SkipWithError(rpc.status().to_string().c_str());
  CallPipeline pipeline(rpc.client(), rpc.address(), small_request, /*in_flight=*/1);
  std::vector<int64_t> latencies = time_pipeline(state, pipeline, /*warmup=*/1000);
  if (state.error_occurred()) return;
  state.SetItemsProcessed(state.iterations());
  set_latency_counters(state, std::move(latencies));
}

// The same call from an application thread: call_async, then wait on the future. Each call
// crosses threads twice (post + uv_async_send to the I/O thread, the promise back).
void SmallCallRoundTripFromCaller(benchmark::State& state) {
  RpcPair rpc(static_cast<int>(state.range(0)));
  if (!rpc.status().is_ok()) return state.SkipWithError(rpc.status().to_string().c_str());
  for (int i = 0; i < 1000; ++i) {
    if (!rpc.client().call_async(rpc.address(), kAckMethod, small_request()).get().is_ok()) {
      return state.SkipWithError("warm-up call failed");
    }
  }
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 20);
  const ProcessCpuCounter cpu;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    Result<Reply> reply = rpc.client().call_async(rpc.address(), kAckMethod, small_request()).get();
    latencies.push_back(nanoseconds_between(start, Clock::now()));
    if (!reply.is_ok()) {
      state.SkipWithError(reply.status().to_string().c_str());
      break;
    }
  }
  cpu.report(state);
  if (state.error_occurred()) return;
  state.SetItemsProcessed(state.iterations());
  set_latency_counters(state, std::move(latencies));
}

// `in_flight` small calls outstanding at all times, from the client's I/O thread, over one
// connection: calls/s (items_per_second) and the latency each call sees under that load.
void CallsPerSecondInFlight(benchmark::State& state) {
  const int in_flight = static_cast<int>(state.range(0));
  RpcPair rpc(2);
  if (!rpc.status().is_ok()) return state.SkipWithError(rpc.status().to_string().c_str());
  CallPipeline pipeline(rpc.client(), rpc.address(), small_request, in_flight);
  std::vector<int64_t> latencies =
      time_pipeline(state, pipeline, /*warmup=*/static_cast<uint64_t>(20 * in_flight));
  if (state.error_occurred()) return;
  state.SetItemsProcessed(state.iterations());
  set_latency_counters(state, std::move(latencies));
}

// Requests carrying one f32 tensor of `size` bytes (kNone: sent straight from the caller's
// buffer), answered with an empty message; `in_flight` calls outstanding at all times.
void TensorCallThroughput(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  const int in_flight = static_cast<int>(state.range(1));
  RpcPair rpc(2);
  if (!rpc.status().is_ok()) return state.SkipWithError(rpc.status().to_string().c_str());
  auto values =
      std::make_shared<const std::vector<float>>(static_cast<size_t>(bytes) / sizeof(float), 0.5f);
  CallPipeline pipeline(rpc.client(), rpc.address(), [&values] { return tensor_request(values); },
                        in_flight);
  std::vector<int64_t> latencies =
      time_pipeline(state, pipeline, /*warmup=*/static_cast<uint64_t>(2 * in_flight));
  if (state.error_occurred()) return;
  set_throughput_counters(state, bytes);
  set_latency_counters(state, std::move(latencies));
}

// --- plain TCP: the limit ----------------------------------------------------------------------

// Both ends of one loopback TCP connection, blocking, with TCP_NODELAY (as hive's connections).
class LoopbackConnection {
 public:
  LoopbackConnection() {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    HIVE_NET_CHECK(listener >= 0, "socket: ", std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    const sockaddr* as_sockaddr = reinterpret_cast<const sockaddr*>(&address);
    HIVE_NET_CHECK(::bind(listener, as_sockaddr, length) == 0, "bind: ", std::strerror(errno));
    HIVE_NET_CHECK(::listen(listener, 1) == 0, "listen: ", std::strerror(errno));
    HIVE_NET_CHECK(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0,
                   "getsockname: ", std::strerror(errno));
    client_ = ::socket(AF_INET, SOCK_STREAM, 0);
    HIVE_NET_CHECK(::connect(client_, as_sockaddr, length) == 0, "connect: ", std::strerror(errno));
    server_ = ::accept(listener, nullptr, nullptr);
    HIVE_NET_CHECK(server_ >= 0, "accept: ", std::strerror(errno));
    ::close(listener);
    const int one = 1;
    ::setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(server_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~LoopbackConnection() {
    ::close(client_);
    ::close(server_);
  }
  LoopbackConnection(const LoopbackConnection&) = delete;
  LoopbackConnection& operator=(const LoopbackConnection&) = delete;

  int client() const { return client_; }
  int server() const { return server_; }

 private:
  int client_ = -1;
  int server_ = -1;
};

bool send_all(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes = bytes.subspan(static_cast<size_t>(sent));
  }
  return true;
}

// False when the peer closed (or failed) before `bytes` was full.
bool receive_all(int fd, std::span<std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t got = ::recv(fd, bytes.data(), bytes.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    bytes = bytes.subspan(static_cast<size_t>(got));
  }
  return true;
}

// Messages of `size` bytes, `in_flight` outstanding: a receiver thread reads each into one
// reused buffer and answers a 1-byte ack; the benchmark thread sends the next message per ack.
// One iteration is one acknowledged message, as one call is in TensorCallThroughput.
void RawTcpLoopback(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  const int in_flight = static_cast<int>(state.range(1));
  LoopbackConnection connection;
  std::thread receiver([fd = connection.server(), bytes] {
    std::vector<std::byte> block(static_cast<size_t>(bytes));
    const std::array<std::byte, 1> ack{std::byte{1}};
    while (receive_all(fd, block) && send_all(fd, ack)) {
    }
  });
  const std::vector<std::byte> message(static_cast<size_t>(bytes), std::byte{0x3f});
  std::array<std::byte, 1> ack{};
  bool ok = true;
  // Warm-up: the first messages fill the pipeline, as the RPC case's warm-up calls do.
  for (int i = 0; i < in_flight && ok; ++i) ok = send_all(connection.client(), message);
  for (int i = 0; i < in_flight && ok; ++i) {
    ok = receive_all(connection.client(), ack) && send_all(connection.client(), message);
  }
  const ProcessCpuCounter cpu;
  for (auto _ : state) {
    if (!ok) break;
    ok = receive_all(connection.client(), ack) && send_all(connection.client(), message);
  }
  cpu.report(state);
  for (int i = 0; i < in_flight && ok; ++i) ok = receive_all(connection.client(), ack);
  ::shutdown(connection.client(), SHUT_WR);
  receiver.join();
  if (!ok) return state.SkipWithError("loopback send/receive failed");
  set_throughput_counters(state, bytes);
}

// 64 bytes to an echo thread and back, one at a time: the smallest round trip two threads can do
// over loopback TCP, for SmallCallRoundTrip's p50.
void RawTcpRoundTrip(benchmark::State& state) {
  LoopbackConnection connection;
  std::thread echo([fd = connection.server()] {
    std::array<std::byte, kSmallMetadataBytes> block{};
    while (receive_all(fd, block) && send_all(fd, block)) {
    }
  });
  std::array<std::byte, kSmallMetadataBytes> ping{};
  ping.fill(std::byte{0x5a});
  std::array<std::byte, kSmallMetadataBytes> pong{};
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) {
    ok = send_all(connection.client(), ping) && receive_all(connection.client(), pong);
  }
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 20);
  const ProcessCpuCounter cpu;
  for (auto _ : state) {
    if (!ok) break;
    const Clock::time_point start = Clock::now();
    ok = send_all(connection.client(), ping) && receive_all(connection.client(), pong);
    latencies.push_back(nanoseconds_between(start, Clock::now()));
  }
  cpu.report(state);
  ::shutdown(connection.client(), SHUT_WR);
  echo.join();
  if (!ok) return state.SkipWithError("loopback ping/pong failed");
  state.SetItemsProcessed(state.iterations());
  set_latency_counters(state, std::move(latencies));
}

BENCHMARK(SmallCallRoundTrip)
    ->ArgName("loops")
    ->Arg(2)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(SmallCallRoundTripFromCaller)
    ->ArgName("loops")
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(RawTcpRoundTrip)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(CallsPerSecondInFlight)
    ->ArgName("in_flight")
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(TensorCallThroughput)
    ->ArgNames({"bytes", "in_flight"})
    ->ArgsProduct({{4 * kMiB, 64 * kMiB}, {2, 4}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(RawTcpLoopback)
    ->ArgNames({"bytes", "in_flight"})
    ->ArgsProduct({{4 * kMiB, 64 * kMiB}, {2, 4}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("libuv", uv_version_string());
  benchmark::AddCustomContext("transport", "TCP over 127.0.0.1, one connection per case");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
