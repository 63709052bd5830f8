// DhtNodes on a SimulatedNetwork: start one on a fresh host (it bootstraps from 1-3 random
// nodes that have already joined), kill one (its host becomes a black hole, then the node is
// destroyed), and pick random live or joined members, all from one seeded random stream.
// Members are numbered in the order they started; a killed member's number is never reused.
// Single-threaded: the simulation's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "dht/core/random_source.h"
#include "dht/node/dht_node.h"
#include "tests/dht/sim/simulated_network.h"

namespace hive::dht::sim {

inline constexpr DhtTime kSimulationStart = 1'700'000'000'000;  // ms since the epoch

struct SwarmOptions {
  uint64_t seed = 1;
  NetworkOptions network;  // its seed is derived from `seed`
  DhtNodeOptions node;
  size_t min_bootstrap_peers = 1;
  size_t max_bootstrap_peers = 3;
};

using MemberId = size_t;

// A set of member numbers with O(1) insert, erase and uniform pick.
class MemberSet {
 public:
  void insert(MemberId member);
  void erase(MemberId member);
  bool contains(MemberId member) const;
  size_t size() const { return members_.size(); }
  MemberId pick(RandomSource& random) const;

 private:
  std::vector<MemberId> members_;
  std::vector<size_t> position_;  // by member; npos when absent
};

class SimulatedSwarm {
 public:
  using JoinCallback = std::function<void(MemberId member, net::Status status)>;

  explicit SimulatedSwarm(SwarmOptions options);
  // Nodes go first: they cancel their timers on the network's scheduler.
  ~SimulatedSwarm();

  SimulatedNetwork& network() { return network_; }
  VirtualTime& time() { return network_.time(); }
  RandomSource& random() { return random_; }

  // Starts a node on a new host. It bootstraps from 1-3 distinct random joined members (from
  // none when nobody has joined yet); `joined` runs when its bootstrap finishes, unless it was
  // killed first. A node whose bootstrap failed (its peers died meanwhile) keeps retrying on its
  // own but never counts as joined.
  MemberId start_node(JoinCallback joined = {});
  void kill(MemberId member);

  DhtNode& node(MemberId member) { return *members_.at(member).node; }
  bool alive(MemberId member) const { return live_.contains(member); }
  size_t started() const { return members_.size(); }
  const MemberSet& live() const { return live_; }      // started and not killed
  const MemberSet& joined() const { return joined_; }  // live and bootstrapped
  size_t failed_bootstraps() const { return failed_bootstraps_; }

 private:
  struct Member {
    HostId host = 0;
    std::unique_ptr<DhtNode> node;
  };

  std::vector<net::SocketAddress> pick_bootstrap_peers();

  SwarmOptions options_;
  SimulatedNetwork network_;
  RandomSource random_;
  std::vector<Member> members_;  // by MemberId
  MemberSet live_;
  MemberSet joined_;
  size_t failed_bootstraps_ = 0;
};

}  // namespace hive::dht::sim
