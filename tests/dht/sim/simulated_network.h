// A fake datagram network for the DHT simulation: hosts with made-up IPv4 addresses
// (10.a.b.c:4000, the host number in the low 24 bits), one DhtTransport per host, and the
// virtual time that every host's node shares as Scheduler and clock.
//
// The model follows net/rpc/datagram_channel: a request is one datagram, sent again evenly over
// the call's timeout (`datagram_attempts` sends, as net::EndpointOptions), and the call fails
// with kDeadlineExceeded at the timeout when no reply came. Each host has an access latency
// drawn from the seed; a datagram from a to b takes (access(a) + access(b)) / 2, stretched by a
// random jitter, and is lost with probability `loss`. A reply that does not fit in one datagram
// comes two round trips later, as the real channel repeats such a call over TCP. A killed host
// is a black hole: it receives nothing, its pending calls never complete (their callbacks are
// dropped, as DhtProtocol drops them once destroyed), and its address is never reused.
//
// Everything is deterministic for a seed: one random stream, drawn in event order.
// Single-threaded: the simulation's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dht/core/random_source.h"
#include "dht/transport/dht_transport.h"
#include "tests/dht/sim/virtual_time.h"

namespace hive::dht::sim {

struct NetworkOptions {
  uint64_t seed = 1;
  // Each host's access latency is uniform in [min, max]; a datagram between two hosts takes
  // the mean of theirs.
  std::chrono::microseconds min_access_latency{5000};
  std::chrono::microseconds max_access_latency{50000};
  double jitter = 0.1;  // each datagram takes up to this fraction longer, uniformly
  double loss = 0.0;    // probability that a datagram (request or reply) is lost
  int datagram_attempts = 3;     // as net::EndpointOptions::datagram_attempts
  size_t max_datagram_bytes = 8192;  // as net::EndpointOptions::max_datagram_bytes
};

struct NetworkStats {
  uint64_t calls = 0;
  std::map<std::string, uint64_t, std::less<>> calls_by_method;
  uint64_t calls_timed_out = 0;
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_lost = 0;         // by the loss probability
  uint64_t datagrams_to_nowhere = 0;   // to a dead or unknown address
  uint64_t bytes_sent = 0;
  uint64_t replies_over_tcp = 0;
};

using HostId = uint32_t;

class SimulatedNetwork {
 public:
  // `start` is the clock's reading (ms since the epoch) at virtual time 0.
  SimulatedNetwork(DhtTime start, NetworkOptions options);
  ~SimulatedNetwork();
  SimulatedNetwork(const SimulatedNetwork&) = delete;
  SimulatedNetwork& operator=(const SimulatedNetwork&) = delete;

  VirtualTime& time() { return time_; }
  Scheduler& scheduler() { return time_; }
  const Clock& clock() const { return time_.clock(); }

  // A new live host with a fresh address. Its transport lives as long as the network.
  HostId add_host();
  // From now on the host receives nothing and its own calls never complete. Destroy the node
  // on it too (after or before: its transport stays valid).
  void kill(HostId host);
  bool alive(HostId host) const;
  DhtTransport& transport(HostId host);
  const net::SocketAddress& address(HostId host) const;
  std::chrono::microseconds access_latency(HostId host) const;
  size_t hosts() const { return hosts_.size(); }

  const NetworkStats& stats() const { return stats_; }

 private:
  class HostTransport;
  struct Host;
  struct Call;

  void call(HostId from, const net::SocketAddress& to, std::string_view method, Bytes request,
            std::chrono::milliseconds timeout, DhtTransport::ReplyCallback done);
  void send_request(const std::shared_ptr<Call>& call);
  void deliver_request(const std::shared_ptr<Call>& call);
  void send_reply(const std::shared_ptr<Call>& call, net::Result<Bytes> reply);
  void retry_or_time_out(const std::shared_ptr<Call>& call);
  void finish(Call& call, net::Result<Bytes> result);
  // The host that has (or had) `address`; nullopt for an address no host ever had.
  std::optional<HostId> host_id_at(const net::SocketAddress& address) const;
  std::chrono::microseconds one_way(HostId a, HostId b);
  bool lost();
  double uniform();  // in [0, 1)

  VirtualTime time_;
  NetworkOptions options_;
  RandomSource random_;
  std::vector<std::unique_ptr<Host>> hosts_;  // by HostId
  NetworkStats stats_;
};

}  // namespace hive::dht::sim
