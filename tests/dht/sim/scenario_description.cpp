#include <string>

#include "tests/dht/sim/dht_scenarios.h"

namespace hive::dht::sim {

namespace {

std::string describe(const Distribution& d) {
  return net::str_cat("mean ", d.mean, ", p50 ", d.p50, ", p99 ", d.p99, ", max ", d.max, " (", d.count, ")");
}

std::string describe(const GetReport& gets) {
  return net::str_cat("  gets: ", gets.found, "/", gets.gets, " found (", 100 * gets.success_rate(), "%), ",
                      gets.local, " answered locally, ", gets.unfinished, " unfinished, ", gets.abandoned,
                      " abandoned (getter killed)\n",
                      "  lookup rounds: ", describe(gets.rounds), "\n",
                      "  find RPCs per get: ", describe(gets.requests), "\n");
}

std::string describe(const NetworkStats& network) {
  std::string by_method;
  for (const auto& [method, calls] : network.calls_by_method) by_method += net::str_cat(" ", method, " ", calls);
  return net::str_cat("  network: ", network.calls, " calls (", by_method, " ), ", network.calls_timed_out,
                      " timed out, ", network.datagrams_sent, " datagrams (", network.datagrams_to_nowhere,
                      " to dead hosts, ", network.datagrams_lost, " lost)\n");
}

std::string describe(const DhtNodeStats& stats) {
  return net::str_cat("  live nodes' stats: ", stats.lookups, " lookups (", stats.bucket_refreshes,
                      " bucket refreshes), ", stats.lookup_requests, " find requests, ", stats.stores,
                      " stores, ", stats.gets, " gets, ", stats.cache_refreshes, " cache refreshes, ",
                      stats.handoffs, " handoffs to new nodes (", stats.handed_off_items, " items)\n");
}

}  // namespace

std::string describe(const JoinStoreGetReport& report) {
  return net::str_cat("join/store/get: ", report.nodes, " nodes joined in ", report.join_virtual_seconds,
                      " virtual s (", report.failed_bootstraps, " failed bootstraps)\n",
                      "  stores: ", report.stores.ok, "/", report.stores.stores, " ok; nodes stored on: ",
                      describe(report.stores.stored_on), "\n  copies on the key's nearest nodes: ",
                      describe(report.copies_on_nearest), "\n",
                      report.copies_on_nearest_after_joins.count > 0
                          ? net::str_cat("  copies on the key's nearest nodes after the late joins: ",
                                         describe(report.copies_on_nearest_after_joins), "\n")
                          : std::string(),
                      describe(report.gets), describe(report.network),
                      describe(report.node_stats), "  routing table entries per node: ",
                      describe(report.routing_table_sizes), "\n  wall: ", report.wall_seconds, " s (joins ", report.join_wall_seconds, " s)\n");
}

std::string describe(const ChurnReport& report) {
  return net::str_cat("churn: ", report.nodes, " nodes, ", report.replaced, " replaced (",
                      report.failed_bootstraps, " failed bootstraps)\n",
                      "  announces: ", report.announces.ok, "/", report.announces.stores, " ok (",
                      report.announces.abandoned, " abandoned: owner killed); nodes stored on: ", describe(report.announces.stored_on), "\n",
                      describe(report.gets), describe(report.network), describe(report.node_stats),
                      "  routing table entries per node: ", describe(report.routing_table_sizes),
                      "\n  wall: ", report.wall_seconds,
                      " s (churn phase ", report.churn_wall_seconds, " s)\n");
}

}  // namespace hive::dht::sim
