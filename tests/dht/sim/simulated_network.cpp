#include "tests/dht/sim/simulated_network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "net/core/check.h"

namespace hive::dht::sim {
namespace {

constexpr uint16_t kPort = 4000;
constexpr uint32_t kMaxHosts = (1u << 24) - 2;  // host numbers 1.. fill the low 24 bits of 10/8

net::SocketAddress address_of_host(HostId host) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(kPort);
  address.sin_addr.s_addr = htonl((10u << 24) | (host + 1));
  return net::SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&address));
}

}  // namespace

// What one host serves, by method (a node serves three).
struct SimulatedNetwork::Host {
  net::SocketAddress address;
  std::chrono::microseconds access_latency;
  bool alive = true;
  std::vector<std::pair<std::string, DhtTransport::RequestHandler>> handlers;
  std::unique_ptr<HostTransport> transport;

  DhtTransport::RequestHandler* handler(std::string_view method) {
    for (auto& [name, handler] : handlers) {
      if (name == method) return &handler;
    }
    return nullptr;
  }
};

// One call in flight: shared by its request datagrams, its replies and its retry timer.
struct SimulatedNetwork::Call {
  HostId from = 0;
  Host* to = nullptr;  // nullptr: an address no host ever had
  HostId to_id = 0;
  std::string method;
  Bytes request;
  DhtTransport::ReplyCallback done;
  std::chrono::microseconds retry_interval{0};
  std::chrono::milliseconds timeout{0};
  int attempts_left = 0;
  bool finished = false;
};

class SimulatedNetwork::HostTransport final : public DhtTransport {
 public:
  HostTransport(SimulatedNetwork& network, HostId host) : network_(network), host_(host) {}

  void call(const net::SocketAddress& to, std::string_view method, Bytes request,
            std::chrono::milliseconds timeout, ReplyCallback done) override {
    network_.call(host_, to, method, std::move(request), timeout, std::move(done));
  }
  void serve(std::string_view method, RequestHandler handler) override {
    Host& host = *network_.hosts_[host_];
    if (RequestHandler* served = host.handler(method)) {
      *served = std::move(handler);
      return;
    }
    host.handlers.emplace_back(std::string(method), std::move(handler));
  }
  void stop_serving(std::string_view method) override {
    auto& handlers = network_.hosts_[host_]->handlers;
    std::erase_if(handlers, [&](const auto& served) { return served.first == method; });
  }

 private:
  SimulatedNetwork& network_;
  HostId host_;
};

SimulatedNetwork::SimulatedNetwork(DhtTime start, NetworkOptions options)
    : time_(start), options_(options), random_(options.seed) {
  HIVE_NET_CHECK(options_.min_access_latency <= options_.max_access_latency,
                 "NetworkOptions: min_access_latency ", options_.min_access_latency.count(),
                 " us is above max_access_latency ", options_.max_access_latency.count(), " us");
  HIVE_NET_CHECK(options_.datagram_attempts >= 1, "NetworkOptions: datagram_attempts ",
                 options_.datagram_attempts, " should be at least 1");
}

SimulatedNetwork::~SimulatedNetwork() = default;

HostId SimulatedNetwork::add_host() {
  HIVE_NET_CHECK(hosts_.size() < kMaxHosts, "SimulatedNetwork: more than ", kMaxHosts, " hosts");
  const auto id = static_cast<HostId>(hosts_.size());
  auto host = std::make_unique<Host>();
  host->address = address_of_host(id);
  const auto spread = options_.max_access_latency - options_.min_access_latency;
  host->access_latency = options_.min_access_latency +
                         std::chrono::microseconds(static_cast<int64_t>(uniform() * static_cast<double>(spread.count())));
  host->transport = std::make_unique<HostTransport>(*this, id);
  hosts_.push_back(std::move(host));
  return id;
}

void SimulatedNetwork::kill(HostId host) {
  hosts_.at(host)->alive = false;
}

bool SimulatedNetwork::alive(HostId host) const { return hosts_.at(host)->alive; }

DhtTransport& SimulatedNetwork::transport(HostId host) { return *hosts_.at(host)->transport; }

const net::SocketAddress& SimulatedNetwork::address(HostId host) const { return hosts_.at(host)->address; }

std::chrono::microseconds SimulatedNetwork::access_latency(HostId host) const {
  return hosts_.at(host)->access_latency;
}

std::optional<HostId> SimulatedNetwork::host_id_at(const net::SocketAddress& address) const {
  const sockaddr* raw = address.get();
  if (raw->sa_family != AF_INET) return std::nullopt;
  sockaddr_in in{};
  std::memcpy(&in, raw, sizeof(in));
  const uint32_t ip = ntohl(in.sin_addr.s_addr);
  if (ntohs(in.sin_port) != kPort || (ip >> 24) != 10) return std::nullopt;
  const uint32_t number = ip & 0xFFFFFFu;
  if (number == 0 || number > hosts_.size()) return std::nullopt;
  return number - 1;
}

double SimulatedNetwork::uniform() {
  return static_cast<double>(random_.next() >> 11) * 0x1.0p-53;
}

bool SimulatedNetwork::lost() {
  // No draw without loss: the random stream then serves latencies only.
  return options_.loss > 0 && uniform() < options_.loss;
}

std::chrono::microseconds SimulatedNetwork::one_way(HostId a, HostId b) {
  const double base = static_cast<double>((hosts_[a]->access_latency + hosts_[b]->access_latency).count()) / 2;
  return std::chrono::microseconds(static_cast<int64_t>(base * (1 + options_.jitter * uniform())));
}

void SimulatedNetwork::call(HostId from, const net::SocketAddress& to, std::string_view method,
                            Bytes request, std::chrono::milliseconds timeout,
                            DhtTransport::ReplyCallback done) {
  ++stats_.calls;
  auto counted = stats_.calls_by_method.find(method);
  if (counted == stats_.calls_by_method.end()) counted = stats_.calls_by_method.emplace(std::string(method), 0).first;
  ++counted->second;
  auto call = std::make_shared<Call>();
  call->from = from;
  if (const std::optional<HostId> callee = host_id_at(to)) {
    call->to = hosts_[*callee].get();
    call->to_id = *callee;
  }
  call->method = std::string(method);
  call->request = std::move(request);
  call->done = std::move(done);
  call->timeout = timeout;
  call->attempts_left = options_.datagram_attempts;
  call->retry_interval = std::max(std::chrono::microseconds(1000), std::chrono::microseconds(timeout) / options_.datagram_attempts);
  send_request(call);
}

void SimulatedNetwork::send_request(const std::shared_ptr<Call>& call) {
  ++stats_.datagrams_sent;
  stats_.bytes_sent += call->request.size();
  time_.post(call->retry_interval, [this, call] { retry_or_time_out(call); });
  if (!call->to || !call->to->alive) {
    ++stats_.datagrams_to_nowhere;
    return;
  }
  if (lost()) {
    ++stats_.datagrams_lost;
    return;
  }
  time_.post(one_way(call->from, call->to_id), [this, call] { deliver_request(call); });
}

void SimulatedNetwork::deliver_request(const std::shared_ptr<Call>& call) {
  // A retry that lands after the answer would be served again for nothing: skip it.
  if (call->finished || !call->to->alive) return;
  DhtTransport::RequestHandler* served = call->to->handler(call->method);
  if (!served) {
    send_reply(call, net::Status(net::StatusCode::kNotFound,
                                 net::str_cat("no method '", call->method, "' at ",
                                              call->to->address.to_string())));
    return;
  }
  DhtRequest request;
  request.bytes = call->request;
  request.from = hosts_[call->from]->address;
  request.from_own_endpoint = true;  // a datagram comes from the caller's endpoint socket
  request.respond = [this, call](net::Result<Bytes> reply) { send_reply(call, std::move(reply)); };
  // A copy: the handler may stop serving (or be replaced) while it runs.
  DhtTransport::RequestHandler handler = *served;
  handler(std::move(request));
}

void SimulatedNetwork::send_reply(const std::shared_ptr<Call>& call, net::Result<Bytes> reply) {
  if (!call->to->alive) return;
  ++stats_.datagrams_sent;
  const size_t bytes = reply.is_ok() ? reply.value().size() : 64;
  stats_.bytes_sent += bytes;
  std::chrono::microseconds delay = one_way(call->to_id, call->from);
  if (bytes > options_.max_datagram_bytes) {
    // "Reply too large" comes back, and the call is repeated over TCP (connect, then the call).
    ++stats_.replies_over_tcp;
    delay += 4 * one_way(call->to_id, call->from);
  } else if (lost()) {
    ++stats_.datagrams_lost;
    return;
  }
  time_.post(delay, [this, call, reply = std::move(reply)]() mutable {
    if (!call->finished) finish(*call, std::move(reply));
  });
}

void SimulatedNetwork::retry_or_time_out(const std::shared_ptr<Call>& call) {
  if (call->finished) return;
  if (--call->attempts_left > 0) {
    send_request(call);
    return;
  }
  ++stats_.calls_timed_out;
  finish(*call, net::Status(net::StatusCode::kDeadlineExceeded,
                            net::str_cat("simulated datagram call '", call->method, "' got no answer within ",
                                         call->timeout.count(), " ms")));
}

void SimulatedNetwork::finish(Call& call, net::Result<Bytes> result) {
  call.finished = true;
  DhtTransport::ReplyCallback done = std::move(call.done);
  call.done = nullptr;
  call.request = Bytes();
  if (!hosts_[call.from]->alive) return;  // a dead host hears nothing
  done(std::move(result));
}

}  // namespace hive::dht::sim
