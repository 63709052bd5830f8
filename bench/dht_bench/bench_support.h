// What the scenarios of dht_bench share: options, waiting on the DHT, random keys and
// identities, summary statistics, process counters and a swarm of nodes on loopback.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dht/node/dht_runner.h"
#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"

namespace hive::dht_bench {

using hive::dht::Bytes;
using hive::dht::DhtId;
using hive::dht::DhtNodeOptions;
using hive::dht::DhtRunner;
using hive::dht::DhtTime;
using hive::dht::GetOptions;
using hive::dht::GetResult;
using hive::dht::StoreResult;
using hive::net::Endpoint;
using hive::net::EventLoop;
using hive::net::SocketAddress;
using hive::net::Status;
using nlohmann::json;
using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

// No operation of a healthy run comes near it (RPCs time out after 3 s, a lookup has a few
// rounds); hitting it means the run is broken, and the benchmark stops rather than hang.
constexpr auto kOperationDeadline = std::chrono::seconds(120);
// Stores that prepare keys for the gets: enough in flight to be quick, few enough that the
// receiving UDP sockets do not overflow.
constexpr size_t kSetupInFlight = 8;

struct BenchOptions {
  std::vector<std::string> scenarios{"hivemind", "latency", "overhead"};
  size_t loops = 4;  // I/O threads of the swarm (the measuring node of `latency` gets one more)
  std::string json_path = HIVE_DHT_BENCH_JSON;
  // hivemind (benchmark_dht.py's defaults)
  size_t peers = 16;
  size_t initial_peers = 4;
  size_t workers = 10;
  size_t rounds = 16;
  size_t store_peers = 8;
  size_t get_peers = 8;
  double failure_rate = 0.1;
  double expiration_s = 300;
  bool latest = true;
  uint64_t seed = 30;
  // latency
  std::vector<size_t> nodes{20, 100, 1000};
  size_t ops = 1000;
  size_t throughput_ops = 2000;
  std::vector<size_t> in_flight{8, 64};
  size_t value_bytes = 32;
  // Every co-located node refreshes its stale buckets by lookups: at N = 1000 that is 1000
  // nodes' maintenance on this machine's cores, load a real swarm spreads over 1000 machines.
  double bucket_refresh_s = 3600;
  // overhead
  size_t records = 100'000;
  size_t record_value_bytes = 16;
};

// Waits for an operation of the DHT; a run that exceeds the deadline is broken, so it stops.
template <typename T>
T await(std::future<T>& future, const char* what) {
  if (future.wait_for(kOperationDeadline) != std::future_status::ready) {
    std::fprintf(stderr, "dht_bench: %s did not finish within %lld s\n", what,
                 static_cast<long long>(kOperationDeadline.count()));
    std::exit(1);
  }
  return future.get();
}

Bytes bytes_of(std::string_view text);
// `count` random bytes as hex (uuid4().hex is 16 bytes of it).
std::string random_hex(std::mt19937_64& random, size_t count);
// A distinct identity per index (the seed's first 8 bytes are the index, the rest a fixed tag).
hive::net::Identity identity_of(uint64_t index);

template <typename T>
std::vector<T> sample(const std::vector<T>& from, size_t count, std::mt19937_64& random) {
  std::vector<T> out;
  std::sample(from.begin(), from.end(), std::back_inserter(out), std::min(count, from.size()), random);
  std::shuffle(out.begin(), out.end(), random);
  return out;
}

GetOptions get_options(bool latest);

inline double elapsed_s(SteadyClock::time_point since) {
  return Seconds(SteadyClock::now() - since).count();
}

// Mean, sample standard deviation (ddof = 1, as hivemind's numpy call), max.
struct Spread {
  double mean = 0, stddev = 0, max = 0;
  size_t count = 0;
};
Spread spread_of(const std::vector<double>& values);
json to_json(const Spread& s);

// Latencies in milliseconds: nearest-rank percentiles.
struct Latency {
  double p50 = 0, p99 = 0, mean = 0, max = 0;
  size_t count = 0;
};
Latency latency_of(std::vector<double> ms);
json to_json(const Latency& l);

// Raises the soft limit on open files to what `nodes` endpoints need (a TCP listener and a UDP
// socket each, plus connections and the loops' own descriptors), or exits naming the limit.
void ensure_file_limit(size_t nodes);
double process_cpu_us();
// CPU time of the calling thread (user + system).
double thread_cpu_us();
// Udp RcvbufErrors from /proc/net/snmp (0 when unreadable).
uint64_t udp_receive_buffer_errors();

// Nodes in this process. Each node's endpoint runs on one of the swarm's loops. kill() destroys a
// node abruptly: its DHT state and sockets go at once, nobody is told (as when a process is
// killed); other nodes find out by timeouts. Threads: add/bootstrap/kill from any thread but the
// loops'; a node may be used by one thread while another kills a different node.
class Swarm {
 public:
  Swarm(size_t loops, DhtNodeOptions options) : options_(std::move(options)) {
    for (size_t i = 0; i < loops; ++i) loops_.push_back(std::make_unique<EventLoop>());
  }
  ~Swarm() {
    for (auto& node : nodes_) node.reset();  // runners and endpoints before their loops
  }
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;

  // A new node on loop `loop`, listening on a free loopback port; not bootstrapped yet.
  size_t add(size_t loop) {
    auto node = std::make_unique<Node>();
    node->endpoint = std::make_unique<Endpoint>(*loops_.at(loop), identity_of(nodes_.size() + 1));
    auto bound = node->endpoint->listen("127.0.0.1:0");
    if (!bound.is_ok()) {
      std::fprintf(stderr, "dht_bench: listen on 127.0.0.1:0 for node %zu: %s\n", nodes_.size(),
                   bound.status().to_string().c_str());
      std::exit(1);
    }
    node->address = bound.value();
    node->runner = std::make_unique<DhtRunner>(*node->endpoint, node->address, options_);
    nodes_.push_back(std::move(node));
    return nodes_.size() - 1;
  }

  std::future<Status> bootstrap(size_t node, const std::vector<size_t>& initial) {
    std::vector<SocketAddress> addresses;
    for (size_t peer : initial) addresses.push_back(nodes_.at(peer)->address);
    return runner(node).bootstrap(std::move(addresses));
  }

  void kill(size_t node) {
    nodes_.at(node)->runner.reset();
    nodes_.at(node)->endpoint.reset();
  }

  DhtRunner& runner(size_t node) { return *nodes_.at(node)->runner; }
  EventLoop& loop(size_t index) { return *loops_.at(index); }
  bool alive(size_t node) const { return nodes_.at(node)->runner != nullptr; }
  size_t size() const { return nodes_.size(); }
  size_t loops() const { return loops_.size(); }

 private:
  struct Node {
    std::unique_ptr<Endpoint> endpoint;
    SocketAddress address;
    std::unique_ptr<DhtRunner> runner;
  };
  DhtNodeOptions options_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// Joins every node of the swarm in batches of `batch` bootstrapping at once, each through up to
// `initial_peers` random nodes that joined before its batch (node 0 starts the swarm alone).
// Exits if a bootstrap fails.
void join(Swarm& swarm, size_t initial_peers, size_t batch, std::mt19937_64& random);

}  // namespace hive::dht_bench
