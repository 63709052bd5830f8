#include "bench/dht_bench/scenarios.h"

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "dht/storage/local_storage.h"

namespace hive::dht_bench {
namespace {

size_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

size_t malloc_in_use_bytes() {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Stores `records` entries of `value_bytes` random bytes into a fresh LocalStorage: plain records
// under random keys, or (subkeys_per_key > 0) subkeys of 8 bytes, that many per key. Payload per
// entry: the value (plus the subkey); the 20-byte key id counts as overhead.
json measure_overhead(size_t records, size_t value_bytes, size_t subkeys_per_key) {
  hive::dht::SystemClock clock;
  hive::dht::StorageLimits limits;
  limits.max_total_bytes = std::numeric_limits<size_t>::max() / 2;
  limits.max_subkeys_per_key = std::max<size_t>(subkeys_per_key, limits.max_subkeys_per_key);
  std::mt19937_64 random(7);
  const auto random_id = [&] {
    std::array<uint8_t, hive::dht::kIdBytes> id{};
    for (auto& byte : id) byte = static_cast<uint8_t>(random());
    return DhtId(id);
  };
  const DhtTime expiration = clock.now() + 3'600'000;
  const size_t subkey_bytes = subkeys_per_key > 0 ? 8 : 0;

  ::malloc_trim(0);
  const size_t rss_before = rss_bytes();
  const size_t malloc_before = malloc_in_use_bytes();
  auto storage = std::make_unique<hive::dht::LocalStorage>(clock, limits);
  DhtId key = random_id();
  for (size_t i = 0; i < records; ++i) {
    Bytes value(value_bytes);
    for (auto& byte : value) byte = static_cast<std::byte>(random());
    std::optional<Bytes> subkey;
    if (subkeys_per_key > 0) {
      if (i % subkeys_per_key == 0) key = random_id();
      Bytes name(subkey_bytes);
      for (size_t b = 0; b < subkey_bytes; ++b) name[b] = static_cast<std::byte>((i >> (8 * b)) & 0xff);
      subkey = std::move(name);
    } else {
      key = random_id();
    }
    auto stored = storage->store(key, std::move(value), expiration, std::move(subkey));
    HIVE_NET_CHECK(stored.is_ok() && stored.value() == hive::dht::StoreOutcome::kStored,
                   "LocalStorage::store of record ", i, " did not store");
  }
  const size_t rss_after = rss_bytes();
  const size_t malloc_after = malloc_in_use_bytes();
  const hive::dht::StorageStats stats = storage->stats();
  const double n = static_cast<double>(records);
  const double payload = static_cast<double>(value_bytes + subkey_bytes);
  const double rss_per = static_cast<double>(rss_after - rss_before) / n;
  const double malloc_per = static_cast<double>(malloc_after - malloc_before) / n;
  const double accounted_per = static_cast<double>(stats.bytes_used) / n;
  storage.reset();
  return {{"kind", subkeys_per_key > 0 ? "subkeys" : "plain records"},
          {"entries", records},
          {"subkeys_per_key", subkeys_per_key},
          {"payload_bytes_per_entry", payload},
          {"rss_bytes_per_entry", rss_per},
          {"rss_overhead_bytes_per_entry", rss_per - payload},
          {"malloc_bytes_per_entry", malloc_per},
          {"malloc_overhead_bytes_per_entry", malloc_per - payload},
          {"accounted_bytes_per_entry", accounted_per},
          {"accounted_overhead_bytes_per_entry", accounted_per - payload},
          {"storage_records", stats.records},
          {"storage_subkeys", stats.subkeys}};
}

}  // namespace

json run_overhead(const BenchOptions& options) {
  json rows = json::array();
  rows.push_back(measure_overhead(options.records, options.record_value_bytes, 0));
  rows.push_back(measure_overhead(options.records, options.record_value_bytes, 1000));
  std::printf("\n== memory per stored entry, one LocalStorage, %zu entries of %zu-byte values\n",
              options.records, options.record_value_bytes);
  std::printf("%-16s %8s %15s %18s %20s\n", "entries", "payload", "RSS overhead", "malloc overhead",
              "accounted overhead");
  for (const json& row : rows) {
    std::printf("%-16s %8.0f %15.1f %18.1f %20.1f\n",
                (row["kind"].get<std::string>() + (row["subkeys_per_key"].get<size_t>() ? " (1000/key)" : "")).c_str(),
                row["payload_bytes_per_entry"].get<double>(), row["rss_overhead_bytes_per_entry"].get<double>(),
                row["malloc_overhead_bytes_per_entry"].get<double>(),
                row["accounted_overhead_bytes_per_entry"].get<double>());
  }
  std::fflush(stdout);
  return {{"what", "bytes per entry beyond its payload (value, and subkey for subkeys; the 20-byte key "
                   "id counts as overhead): process RSS and malloc's bytes in use (mallinfo2) before and "
                   "after storing into a fresh LocalStorage, and LocalStorage's own accounting"},
          {"rows", rows}};
}

}  // namespace hive::dht_bench
