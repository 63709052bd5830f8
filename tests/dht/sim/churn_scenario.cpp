#include <chrono>
#include <utility>
#include <vector>

#include "tests/dht/sim/dht_scenarios.h"
#include "tests/dht/sim/scenario_steps.h"

namespace hive::dht::sim {
namespace {

using std::chrono::microseconds;

// The churn scenario's moving parts: owners re-announcing their keys, nodes replaced, gets.
class ChurnRun {
 public:
  explicit ChurnRun(const ChurnConfig& config)
      : config_(config), swarm_(swarm_options(config.seed, config.network, config.node)), time_(swarm_.time()) {}

  ChurnReport run() {
    const WallClock::time_point wall_start = WallClock::now();
    ChurnReport report;
    join(swarm_, config_.nodes, config_.join_interval);
    const WallClock::time_point churn_start = WallClock::now();

    RandomSource& random = swarm_.random();
    keys_.resize(config_.keys);
    for (size_t i = 0; i < config_.keys; ++i) {
      keys_[i].id = DhtId::random(random);
      keys_[i].value = value_of(i);
      adopt(i, swarm_.joined().pick(random));
      // Owners announce out of step, as servers started at different times do.
      const microseconds phase(random.below(static_cast<uint64_t>(microseconds(config_.announce_period).count())));
      time_.post(phase, [this, i, generation = keys_[i].generation] { announce(i, generation); });
    }

    const microseconds start = time_.now();
    const microseconds gets_start = start + config_.warmup;
    end_ = gets_start + config_.duration;
    const double replacements_per_second =
        config_.replaced_per_minute * static_cast<double>(config_.nodes) / 60.0;
    if (replacements_per_second > 0) {
      replace_interval_ = microseconds(static_cast<int64_t>(1e6 / replacements_per_second));
      time_.post(replace_interval_, [this] { replace_one(); });
    }
    time_.post(gets_start - start, [this] { get_one(); });

    time_.run_until(end_);
    // No new work from here on; let the gets and announces in flight finish.
    time_.run_until(end_ + kGrace,
                    [this] { return gets_.in_flight.count() == 0 && announces_.in_flight.count() == 0; });

    report.nodes = config_.nodes;
    report.replaced = replaced_;
    report.failed_bootstraps = swarm_.failed_bootstraps();
    report.announces = announces_.summarize();
    report.gets = gets_.summarize();
    report.network = swarm_.network().stats();
    report.node_stats = node_stats_of(swarm_);
    report.routing_table_sizes = routing_table_sizes_of(swarm_);
    report.churn_wall_seconds = seconds_since(churn_start);
    report.wall_seconds = seconds_since(wall_start);
    return report;
  }

 private:
  struct Key {
    DhtId id;
    Bytes value;
    MemberId owner = 0;
    uint64_t generation = 0;  // a new owner starts a new chain of announces
    bool announced = false;   // stored somewhere at least once: from then on, gets may ask for it
  };

  bool running() const { return time_.now() < end_; }

  void adopt(size_t key, MemberId owner) {
    keys_[key].owner = owner;
    ++keys_[key].generation;
    if (owner >= owned_.size()) owned_.resize(owner + 1);
    owned_[owner].push_back(key);
  }

  void announce(size_t index, uint64_t generation) {
    Key& key = keys_[index];
    if (key.generation != generation || !swarm_.alive(key.owner) || !running()) return;
    const DhtTime expiration = swarm_.network().clock().now() + std::chrono::milliseconds(config_.expiration).count();
    announces_.start(key.owner);
    swarm_.node(key.owner).store({StoreItem{key.id, std::nullopt, key.value, expiration, std::nullopt}},
                                 [this, index, owner = key.owner](std::vector<StoreResult> results) {
                                   announces_.finish(owner, results);
                                   if (results.size() == 1 && results[0].ok()) keys_[index].announced = true;
                                   if (keys_[index].announced) announced_.insert(index);
                                 });
    time_.post(config_.announce_period, [this, index, generation] { announce(index, generation); });
  }

  // Kills a random node and starts a new one, which takes over the dead node's keys (a server
  // restarted elsewhere) and announces them once it has joined. Until then the records already
  // stored keep serving gets.
  void replace_one() {
    if (!running()) return;
    RandomSource& random = swarm_.random();
    const MemberId victim = swarm_.live().pick(random);
    std::vector<size_t> orphans;
    if (victim < owned_.size()) orphans = std::exchange(owned_[victim], {});
    swarm_.kill(victim);
    gets_.killed(victim);
    announces_.killed(victim);
    ++replaced_;
    // Adopted before the start, so that a newcomer killed while joining hands them on in turn.
    const MemberId newcomer = swarm_.started();
    for (size_t key : orphans) adopt(key, newcomer);
    const MemberId started = swarm_.start_node([this](MemberId member, net::Status status) {
      if (member >= owned_.size()) return;
      const std::vector<size_t> keys = status.is_ok() ? owned_[member] : std::exchange(owned_[member], {});
      for (size_t key : keys) {
        if (!status.is_ok()) adopt(key, swarm_.joined().pick(swarm_.random()));
        announce(key, keys_[key].generation);
      }
    });
    HIVE_NET_CHECK(started == newcomer, "SimulatedSwarm numbered a new member ", started, ", expected ", newcomer);
    time_.post(replace_interval_, [this] { replace_one(); });
  }

  void get_one() {
    if (!running()) return;
    if (announced_.size() > 0) {
      RandomSource& random = swarm_.random();
      const size_t index = announced_.pick(random);
      const MemberId getter = swarm_.joined().pick(random);
      gets_.start(getter);
      swarm_.node(getter).get(keys_[index].id, GetOptions{}, [this, index, getter](GetResult result) {
        gets_.finish(getter, result, keys_[index].value);
      });
    }
    time_.post(config_.get_interval, [this] { get_one(); });
  }

  ChurnConfig config_;
  SimulatedSwarm swarm_;
  VirtualTime& time_;
  std::vector<Key> keys_;
  std::vector<std::vector<size_t>> owned_;  // keys by owner
  MemberSet announced_;                     // keys gets may ask for
  microseconds end_{0};
  microseconds replace_interval_{0};
  size_t replaced_ = 0;
  StoreTally announces_;
  GetTally gets_;
};

}  // namespace

ChurnReport run_churn(const ChurnConfig& config) { return ChurnRun(config).run(); }

}  // namespace hive::dht::sim
