#include "tools/hive/announced_experts.h"

#include <algorithm>
#include <deque>
#include <future>
#include <optional>

#include "engine/core/error.h"
#include "moe/client/prefix_contents.h"
#include "moe/uid/expert_uid.h"
#include "moe/uid/prefix_subkey.h"

namespace hive::tools {
namespace {

// "ffn.3.17." for coords {3, 17}.
std::string prefix_key(const std::string& uid_prefix, const std::vector<int64_t>& coords) {
  std::string key = uid_prefix + moe::kUidDelimiter;
  for (const int64_t index : coords) key += std::to_string(index) + moe::kUidDelimiter;
  return key;
}

dht::DhtTime subkey_expiration(const dht::Record& record, int64_t index) {
  const auto found = record.dictionary().find(moe::encode_prefix_subkey(index));
  return found == record.dictionary().end() ? 0 : found->second.expiration;
}

}  // namespace

std::vector<AnnouncedExpert> find_announced_experts(dht::DhtRunner& dht, const std::string& uid_prefix,
                                                    const std::vector<int64_t>& grid,
                                                    size_t max_gets_in_flight) {
  HIVE_REQUIRE(max_gets_in_flight >= 1, "reading the experts under '", uid_prefix,
               "': at most 0 DHT gets at once, expected at least 1");
  // The first copy of a prefix record that a get meets may be a cache that lacks subkeys other
  // servers added since; crawling the nearest nodes and merging their copies shows them all.
  dht::GetOptions latest;
  latest.latest = true;

  std::vector<AnnouncedExpert> experts;
  std::vector<std::vector<int64_t>> level;  // the prefixes of this level, as coords
  for (int64_t index = 0; index < grid[0]; ++index) level.push_back({index});
  while (!level.empty()) {
    std::vector<std::vector<int64_t>> deeper;
    std::deque<std::future<dht::GetResult>> gets;  // for level[done], level[done + 1], ...
    size_t started = 0;
    for (size_t done = 0; done < level.size(); ++done) {
      for (; started < level.size() && started - done < max_gets_in_flight; ++started) {
        gets.push_back(dht.get(prefix_key(uid_prefix, level[started]), latest));
      }
      const dht::GetResult result = gets.front().get();
      gets.pop_front();
      const std::vector<int64_t>& coords = level[done];
      for (const moe::PrefixChild& child :
           moe::read_prefix_record(result.record, uid_prefix, grid, coords, dht.clock().now())) {
        if (child.expert) {
          experts.push_back({*child.expert, subkey_expiration(*result.record, child.index)});
        } else {
          deeper.push_back(coords);
          deeper.back().push_back(child.index);
        }
      }
    }
    level = std::move(deeper);
  }
  std::sort(experts.begin(), experts.end(), [](const AnnouncedExpert& a, const AnnouncedExpert& b) {
    return a.location.uid < b.location.uid;
  });
  return experts;
}

}  // namespace hive::tools
