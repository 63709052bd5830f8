// dht_bench's scenarios (see main.cpp): each runs, prints its table and returns its JSON.
#pragma once

#include <cstddef>

#include "bench/dht_bench/bench_support.h"

namespace hive::dht_bench {

// hivemind's benchmarks/benchmark_dht.py workload.
json run_hivemind(const BenchOptions& options);
// Latency and ops/s from node 0 of a swarm of `nodes`.
json run_latency(const BenchOptions& options, size_t nodes);
void print_latency_table(const json& runs);
// Memory per stored record in one LocalStorage.
json run_overhead(const BenchOptions& options);

}  // namespace hive::dht_bench
