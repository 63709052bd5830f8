// A small DHT swarm for moe's tests: nodes on 127.0.0.1 (UDP and TCP on ephemeral ports) sharing
// one event loop, each bootstrapped from the first. With at most 5 nodes every node is one of
// the 5 replicas of every record, so each answers gets from its own storage.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "dht/node/dht_runner.h"
#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tests/net/net_test_util.h"

namespace hive::moe::testing {

class DhtSwarm {
 public:
  explicit DhtSwarm(size_t nodes) {
    for (size_t i = 0; i < nodes; ++i) {
      nodes_.push_back(std::make_unique<Node>(loop_, static_cast<uint8_t>(i + 1)));
      std::vector<net::SocketAddress> initial;
      if (i > 0) initial.push_back(nodes_[0]->address);
      const net::Status status = nodes_.back()->runner.bootstrap(initial).get();
      EXPECT_TRUE(status.is_ok()) << status.to_string();
    }
  }

  dht::DhtRunner& node(size_t i) { return nodes_.at(i)->runner; }
  size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    Node(net::EventLoop& loop, uint8_t seed)
        : endpoint(loop, net::testing::identity_from_seed(seed)),
          address(endpoint.listen("127.0.0.1:0").value()),
          runner(endpoint, address) {}

    net::Endpoint endpoint;
    net::SocketAddress address;
    dht::DhtRunner runner;
  };

  net::EventLoop loop_;  // outlives the nodes
  std::vector<std::unique_ptr<Node>> nodes_;
};

// A server's peer id for tests that announce experts without running a server.
inline net::PeerId fake_peer(uint8_t seed) {
  std::array<std::byte, net::kPeerIdBytes> bytes{};
  bytes.fill(std::byte{seed});
  return net::PeerId(bytes);
}

}  // namespace hive::moe::testing
