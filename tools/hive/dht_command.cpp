// `hive dht`: runs a DHT node until SIGINT or SIGTERM. Once bootstrapped it prints, once on
// stdout, the exact `--initial-peers ADDRESS` argument other nodes should be started with (not
// in client mode: such a node serves nothing), then logs its routing table's and storage's
// sizes to stderr every --log-period seconds. A failed bootstrap exits with 1.
//
// Threads: the main thread blocks SIGINT and SIGTERM before the I/O thread exists (so that
// thread inherits the mask) and then waits for them with sigtimedwait(), whose timeout is the
// next log line: no signal handler, no flag polling.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dht/node/dht_runner.h"
#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tools/hive/commands.h"

namespace hive::tools {
namespace {

struct DhtCommandOptions {
  std::string listen = "0.0.0.0:31337";
  std::string advertise;
  std::vector<std::string> initial_peers;
  std::string identity;
  bool client_mode = false;
  double log_period_s = 30;
};

bool is_wildcard(const net::SocketAddress& address) {
  const sockaddr* raw = address.get();
  if (raw->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(raw)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  const auto* ip6 = reinterpret_cast<const sockaddr_in6*>(raw);
  return raw->sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&ip6->sin6_addr);
}

// What others should dial: --advertise (an address without a port takes the bound port), else
// the bound address, else (a wildcard) loopback with a note.
net::Result<net::SocketAddress> advertised_address(const DhtCommandOptions& options,
                                                   const net::SocketAddress& bound) {
  const std::string port = std::to_string(bound.port());
  if (!options.advertise.empty()) {
    auto address = net::SocketAddress::parse(options.advertise);
    if (address.is_ok()) return address;
    return net::SocketAddress::parse(options.advertise + ":" + port);
  }
  if (!is_wildcard(bound)) return bound;
  const bool ip6 = bound.get()->sa_family == AF_INET6;
  auto loopback = net::SocketAddress::parse((ip6 ? "[::1]:" : "127.0.0.1:") + port);
  std::fprintf(stderr,
               "hive dht: note: listening on the wildcard address %s; advertising %s, which only "
               "this machine can reach (pass --advertise HOST[:PORT] for other machines)\n",
               bound.to_string().c_str(), loopback.value().to_string().c_str());
  return loopback;
}

void log_sizes(dht::DhtRunner& runner) {
  const dht::DhtSnapshot snapshot = runner.snapshot();
  std::fprintf(stderr,
               "hive dht: routing table %zu nodes in %zu buckets; storage %zu records, %zu subkeys, "
               "%zu bytes; cache %zu records; %llu requests served (%llu malformed)\n",
               snapshot.routing_table_size, snapshot.routing_table_buckets, snapshot.storage.records,
               snapshot.storage.subkeys, snapshot.storage.bytes_used, snapshot.cache.records,
               static_cast<unsigned long long>(snapshot.protocol.requests_served),
               static_cast<unsigned long long>(snapshot.protocol.requests_malformed));
}

// Logs every `period` until SIGINT or SIGTERM (blocked in `signals`) arrives; returns which.
int wait_for_signal(dht::DhtRunner& runner, const sigset_t& signals, std::chrono::duration<double> period) {
  using Clock = std::chrono::steady_clock;
  const auto step = std::chrono::duration_cast<Clock::duration>(period);
  Clock::time_point next_log = Clock::now() + step;
  while (true) {
    const auto left = std::max(next_log - Clock::now(), Clock::duration::zero());
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    const timespec timeout{static_cast<time_t>(seconds.count()),
                           static_cast<long>(std::chrono::nanoseconds(left - seconds).count())};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal > 0) return signal;
    if (errno == EAGAIN) {
      log_sizes(runner);
      next_log += step;
    }  // EINTR: another signal interrupted the wait; wait again
  }
}

int run_dht(const DhtCommandOptions& options) {
  std::vector<net::SocketAddress> initial_peers;
  for (const std::string& text : options.initial_peers) {
    auto peer = net::SocketAddress::parse(text);
    if (!peer.is_ok()) {
      std::fprintf(stderr, "hive dht: --initial-peers '%s': %s\n", text.c_str(),
                   peer.status().to_string().c_str());
      return 1;
    }
    initial_peers.push_back(peer.value());
  }
  std::optional<net::Identity> identity;
  if (options.identity.empty()) {
    identity = net::Identity::generate();
  } else {
    auto loaded = net::Identity::load_or_create(options.identity);
    if (!loaded.is_ok()) {
      std::fprintf(stderr, "hive dht: %s\n", loaded.status().to_string().c_str());
      return 1;
    }
    identity = std::move(loaded).value();
  }

  // Before the I/O thread starts: threads inherit the signal mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  net::EventLoop loop;
  net::Endpoint endpoint(loop, *identity);
  auto bound = endpoint.listen(options.listen);
  if (!bound.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", bound.status().to_string().c_str());
    return 1;
  }
  auto advertised = advertised_address(options, bound.value());
  if (!advertised.is_ok()) {
    std::fprintf(stderr, "hive dht: --advertise '%s': %s\n", options.advertise.c_str(),
                 advertised.status().to_string().c_str());
    return 1;
  }
  dht::DhtNodeOptions node_options;
  node_options.protocol.mode = options.client_mode ? dht::NodeMode::kClient : dht::NodeMode::kServer;
  auto runner = std::make_unique<dht::DhtRunner>(endpoint, advertised.value(), node_options);
  const net::Status bootstrapped = runner->bootstrap(initial_peers).get();
  if (!bootstrapped.is_ok()) {
    std::fprintf(stderr, "hive dht: %s\n", bootstrapped.to_string().c_str());
    return 1;
  }

  std::fprintf(stderr, "hive dht: peer id %s, listening on %s%s\n",
               endpoint.identity().peer_id().to_hex().c_str(), bound.value().to_string().c_str(),
               options.client_mode ? " (client mode: serves nothing)" : "");
  if (!options.client_mode) {
    std::printf("--initial-peers %s\n", advertised.value().to_string().c_str());
    std::fflush(stdout);
  }
  log_sizes(*runner);

  const int signal = wait_for_signal(*runner, signals, std::chrono::duration<double>(options.log_period_s));
  std::fprintf(stderr, "hive dht: %s, shutting down\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  runner.reset();
  endpoint.shutdown();
  return 0;
}

}  // namespace

Command add_dht_command(CLI::App& app) {
  auto options = std::make_shared<DhtCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "dht", "Run a DHT node until SIGINT/SIGTERM; prints the --initial-peers argument for others");
  command->add_option("--listen", options->listen, "TCP and UDP address to listen on (port 0: any free one)")
      ->capture_default_str();
  command->add_option("--advertise", options->advertise,
                      "Address others reach this node at, HOST[:PORT] (default: the listening "
                      "address, or loopback when that is a wildcard)");
  command->add_option("--initial-peers", options->initial_peers,
                      "HOST:PORT of nodes already in the swarm (repeatable or comma separated; "
                      "none: start a new swarm)")
      ->delimiter(',');
  command->add_option("--identity", options->identity,
                      "Identity file, created if missing (default: a fresh key every run)");
  command->add_flag("--client-mode", options->client_mode,
                    "Use the DHT without serving it (never added to others' routing tables)");
  command->add_option("--log-period", options->log_period_s, "Seconds between status lines")
      ->capture_default_str()->check(CLI::PositiveNumber);
  return {command, [options] { return run_dht(*options); }};
}

}  // namespace hive::tools
