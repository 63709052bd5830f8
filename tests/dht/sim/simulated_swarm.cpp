#include "tests/dht/sim/simulated_swarm.h"

#include <algorithm>
#include <utility>

namespace hive::dht::sim {
namespace {

constexpr size_t kAbsent = static_cast<size_t>(-1);

NetworkOptions seeded(NetworkOptions network, uint64_t seed) {
  // A stream of its own, so that adding a random draw in the swarm does not move the latencies.
  network.seed = seed ^ 0x6E6574776F726Bull;  // "network"
  return network;
}

}  // namespace

void MemberSet::insert(MemberId member) {
  if (member >= position_.size()) position_.resize(member + 1, kAbsent);
  if (position_[member] != kAbsent) return;
  position_[member] = members_.size();
  members_.push_back(member);
}

void MemberSet::erase(MemberId member) {
  if (!contains(member)) return;
  const size_t at = position_[member];
  members_[at] = members_.back();
  position_[members_[at]] = at;
  members_.pop_back();
  position_[member] = kAbsent;
}

bool MemberSet::contains(MemberId member) const {
  return member < position_.size() && position_[member] != kAbsent;
}

MemberId MemberSet::pick(RandomSource& random) const {
  HIVE_NET_CHECK(!members_.empty(), "MemberSet::pick from an empty set");
  return members_[random.below(members_.size())];
}

SimulatedSwarm::SimulatedSwarm(SwarmOptions options)
    : options_(std::move(options)),
      network_(kSimulationStart, seeded(options_.network, options_.seed)),
      random_(options_.seed) {
  HIVE_NET_CHECK(options_.min_bootstrap_peers >= 1 && options_.min_bootstrap_peers <= options_.max_bootstrap_peers,
                 "SwarmOptions: bootstrap peers ", options_.min_bootstrap_peers, "..",
                 options_.max_bootstrap_peers, " should be a range starting at 1 or more");
}

SimulatedSwarm::~SimulatedSwarm() {
  for (Member& member : members_) member.node.reset();
}

std::vector<net::SocketAddress> SimulatedSwarm::pick_bootstrap_peers() {
  const size_t wanted = options_.min_bootstrap_peers +
                        random_.below(options_.max_bootstrap_peers - options_.min_bootstrap_peers + 1);
  const size_t count = std::min(wanted, joined_.size());
  std::vector<MemberId> chosen;
  while (chosen.size() < count) {
    const MemberId peer = joined_.pick(random_);
    if (std::find(chosen.begin(), chosen.end(), peer) == chosen.end()) chosen.push_back(peer);
  }
  std::vector<net::SocketAddress> peers;
  for (MemberId peer : chosen) peers.push_back(network_.address(members_[peer].host));
  return peers;
}

MemberId SimulatedSwarm::start_node(JoinCallback joined) {
  const MemberId id = members_.size();
  Member& member = members_.emplace_back();
  member.host = network_.add_host();
  // Random ids stand in for hashes of public keys: just as uniform, much cheaper.
  const NodeInfo self{DhtId::random(random_), network_.address(member.host)};
  member.node = std::make_unique<DhtNode>(network_.transport(member.host), network_.scheduler(), self,
                                          network_.clock(), random_.next(), options_.node);
  live_.insert(id);
  member.node->bootstrap(pick_bootstrap_peers(), [this, id, joined = std::move(joined)](net::Status status) {
    if (!live_.contains(id)) return;
    if (status.is_ok()) {
      joined_.insert(id);
    } else {
      ++failed_bootstraps_;
    }
    if (joined) joined(id, std::move(status));
  });
  return id;
}

void SimulatedSwarm::kill(MemberId member) {
  live_.erase(member);
  joined_.erase(member);
  network_.kill(members_.at(member).host);
  members_.at(member).node.reset();
}

}  // namespace hive::dht::sim
