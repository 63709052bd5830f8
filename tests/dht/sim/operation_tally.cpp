#include "tests/dht/sim/operation_tally.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace hive::dht::sim {

Distribution distribution_of(std::vector<double> values) {
  Distribution result;
  result.count = values.size();
  if (values.empty()) return result;
  std::sort(values.begin(), values.end());
  result.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  // Nearest rank: the smallest value with at least p of the values at or below it.
  auto percentile = [&](double p) {
    const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
  };
  result.p50 = percentile(0.50);
  result.p99 = percentile(0.99);
  result.max = values.back();
  return result;
}

void InFlight::finish(MemberId node) {
  if (--by_node_[node] == 0) by_node_.erase(node);
  --count_;
}

size_t InFlight::abandon(MemberId node) {
  auto found = by_node_.find(node);
  if (found == by_node_.end()) return 0;
  const size_t abandoned = found->second;
  by_node_.erase(found);
  count_ -= abandoned;
  return abandoned;
}

void GetTally::finish(MemberId getter, const GetResult& result, const Bytes& expected) {
  in_flight.finish(getter);
  ++report.gets;
  const bool found = result.record && !result.record->is_dictionary() && result.record->plain() == expected;
  if (found) ++report.found;
  if (result.local) ++report.local;
  // Rounds and RPCs describe lookups: a get answered locally ran none.
  if (!result.local) {
    rounds.push_back(static_cast<double>(result.rounds));
    requests.push_back(static_cast<double>(result.requests));
  }
}

GetReport GetTally::summarize() {
  report.unfinished = in_flight.count();
  report.gets += report.unfinished;
  report.rounds = distribution_of(rounds);
  report.requests = distribution_of(requests);
  return report;
}

void StoreTally::finish(MemberId node, const std::vector<StoreResult>& results) {
  in_flight.finish(node);
  ++report.stores;
  if (results.size() == 1 && results[0].ok()) ++report.ok;
  stored_on.push_back(results.empty() ? 0.0 : static_cast<double>(results[0].stored));
}

StoreReport StoreTally::summarize() {
  report.stores += in_flight.count();
  report.stored_on = distribution_of(stored_on);
  return report;
}

}  // namespace hive::dht::sim
