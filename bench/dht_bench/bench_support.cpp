#include "bench/dht_bench/bench_support.h"

#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <numeric>
#include <sstream>

namespace hive::dht_bench {

Bytes bytes_of(std::string_view text) {
  Bytes out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

std::string random_hex(std::mt19937_64& random, size_t count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * count);
  for (size_t i = 0; i < count; ++i) {
    const auto byte = static_cast<unsigned>(random() & 0xff);
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

hive::net::Identity identity_of(uint64_t index) {
  std::array<std::byte, 32> seed{};
  seed.fill(std::byte{0xd7});
  for (size_t i = 0; i < 8; ++i) seed[i] = static_cast<std::byte>((index >> (8 * i)) & 0xff);
  return hive::net::Identity::from_seed(seed);
}

GetOptions get_options(bool latest) {
  GetOptions options;
  options.latest = latest;
  return options;
}

Spread spread_of(const std::vector<double>& values) {
  Spread out;
  out.count = values.size();
  if (values.empty()) return out;
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  out.max = *std::max_element(values.begin(), values.end());
  if (values.size() > 1) {
    double squares = 0;
    for (double value : values) squares += (value - out.mean) * (value - out.mean);
    out.stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return out;
}

json to_json(const Spread& s) { return {{"mean", s.mean}, {"std", s.stddev}, {"max", s.max}, {"count", s.count}}; }

Latency latency_of(std::vector<double> ms) {
  Latency out;
  out.count = ms.size();
  if (ms.empty()) return out;
  std::sort(ms.begin(), ms.end());
  const auto rank = [&](double q) {
    const auto r = static_cast<size_t>(std::ceil(q * static_cast<double>(ms.size())));
    return ms[std::clamp<size_t>(r, 1, ms.size()) - 1];
  };
  out.p50 = rank(0.50);
  out.p99 = rank(0.99);
  out.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  out.max = ms.back();
  return out;
}

json to_json(const Latency& l) {
  return {{"p50_ms", l.p50}, {"p99_ms", l.p99}, {"mean_ms", l.mean}, {"max_ms", l.max}, {"count", l.count}};
}

void ensure_file_limit(size_t nodes) {
  const rlim_t needed = static_cast<rlim_t>(3 * nodes + 256);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    std::fprintf(stderr, "dht_bench: getrlimit(RLIMIT_NOFILE): %s\n", std::strerror(errno));
    std::exit(1);
  }
  if (limit.rlim_cur >= needed) return;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    std::fprintf(stderr,
                 "dht_bench: %zu nodes need about %llu open files, but the hard limit "
                 "(RLIMIT_NOFILE) is %llu; raise it (ulimit -Hn, limits.conf) or use fewer --nodes\n",
                 nodes, static_cast<unsigned long long>(needed), static_cast<unsigned long long>(limit.rlim_max));
    std::exit(1);
  }
  limit.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    std::fprintf(stderr, "dht_bench: setrlimit(RLIMIT_NOFILE, %llu): %s\n",
                 static_cast<unsigned long long>(needed), std::strerror(errno));
    std::exit(1);
  }
}

double process_cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto us = [](const timeval& time) { return static_cast<double>(time.tv_sec) * 1e6 + static_cast<double>(time.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

double thread_cpu_us() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

uint64_t udp_receive_buffer_errors() {
  std::ifstream snmp("/proc/net/snmp");
  std::string header, values;
  while (std::getline(snmp, header)) {
    if (header.rfind("Udp:", 0) != 0 || !std::getline(snmp, values)) continue;
    std::istringstream names(header), numbers(values);
    std::string name, number;
    while (names >> name && numbers >> number) {
      if (name == "RcvbufErrors") return std::strtoull(number.c_str(), nullptr, 10);
    }
  }
  return 0;
}

void join(Swarm& swarm, size_t initial_peers, size_t batch, std::mt19937_64& random) {
  std::vector<size_t> joined;
  size_t start = 0;
  while (start < swarm.size()) {
    const size_t end = joined.empty() ? start + 1 : std::min(start + batch, swarm.size());
    std::vector<std::pair<size_t, std::future<Status>>> pending;
    for (size_t node = start; node < end; ++node) {
      pending.emplace_back(node, swarm.bootstrap(node, sample(joined, initial_peers, random)));
    }
    for (auto& [node, future] : pending) {
      const Status status = await(future, "bootstrap");
      if (!status.is_ok()) {
        std::fprintf(stderr, "dht_bench: bootstrap of node %zu: %s\n", node, status.to_string().c_str());
        std::exit(1);
      }
      joined.push_back(node);
    }
    start = end;
  }
}

}  // namespace hive::dht_bench
