// Counting what a scenario's operations came to: gets found or not (with their lookup rounds
// and RPCs), stores that reached a node or not, and operations of nodes killed before they
// finished, which are set aside rather than counted as failures.
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "dht/node/dht_node.h"
#include "tests/dht/sim/simulated_swarm.h"

namespace hive::dht::sim {

struct Distribution {
  size_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};
Distribution distribution_of(std::vector<double> values);

// What the gets of a scenario saw.
struct GetReport {
  size_t gets = 0;       // answered or stalled; gets of nodes killed before the answer are not
  size_t abandoned = 0;  // the getter was killed before its answer came
  size_t found = 0;      // returned the value that was stored
  size_t local = 0;      // answered from the getter's own storage or cache
  size_t unfinished = 0;  // no answer by the end of the run (a stall), counted as not found
  Distribution rounds;    // GetResult::rounds
  Distribution requests;  // GetResult::requests: find RPCs per get
  double success_rate() const { return gets == 0 ? 0 : static_cast<double>(found) / static_cast<double>(gets); }
};

struct StoreReport {
  size_t stores = 0;       // finished; stores of nodes killed before the end are not
  size_t abandoned = 0;    // the storing node was killed before the store finished
  size_t ok = 0;           // stored on at least one node
  Distribution stored_on;  // StoreResult::stored
};

// Operations in flight by the node that runs them: a node killed meanwhile never answers, and
// its operations are set aside rather than counted as failures.
class InFlight {
 public:
  void start(MemberId node) { ++by_node_[node]; ++count_; }
  void finish(MemberId node);
  // How many `node` had in flight (now forgotten).
  size_t abandon(MemberId node);
  size_t count() const { return count_; }

 private:
  std::unordered_map<MemberId, size_t> by_node_;
  size_t count_ = 0;
};

// Collects gets' outcomes.
struct GetTally {
  std::vector<double> rounds;
  std::vector<double> requests;
  GetReport report;
  InFlight in_flight;

  void start(MemberId getter) { in_flight.start(getter); }
  // Found: the record is the plain value `expected`.
  void finish(MemberId getter, const GetResult& result, const Bytes& expected);
  void killed(MemberId node) { report.abandoned += in_flight.abandon(node); }
  // Gets still in flight count as unfinished (not found).
  GetReport summarize();
};

struct StoreTally {
  std::vector<double> stored_on;
  StoreReport report;
  InFlight in_flight;

  void start(MemberId node) { in_flight.start(node); }
  // `results` of a store of one item.
  void finish(MemberId node, const std::vector<StoreResult>& results);
  void killed(MemberId node) { report.abandoned += in_flight.abandon(node); }
  // Stores still in flight count as not ok.
  StoreReport summarize();
};

}  // namespace hive::dht::sim
