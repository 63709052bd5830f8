#include "tools/hive/free_expert_uids.h"

#include <algorithm>
#include <span>
#include <utility>

#include "engine/core/error.h"
#include "engine/core/random.h"
#include "moe/server/expert_announcer.h"

namespace hive::tools {
namespace {

// A pattern larger than this is not enumerated: that many of its uids are drawn instead. Far
// more than any server serves, and few enough DHT lookups to check them all in seconds.
constexpr uint64_t kMaxCandidates = 4096;
// Uids looked up in the DHT at once.
constexpr size_t kLookupBatch = 64;

}  // namespace

Result<std::vector<moe::ExpertUid>> choose_free_uids(dht::DhtRunner& dht, const moe::UidPattern& pattern,
                                                     uint64_t count, uint64_t seed, const net::PeerId& self) {
  if (count > pattern.size()) {
    return Status::error(str_cat("expert pattern '", pattern.to_string(), "' holds ", pattern.size(),
                                 " uids: cannot serve ", count, " of them"));
  }
  Generator generator(seed);
  std::vector<moe::ExpertUid> candidates = pattern.size() <= kMaxCandidates
                                               ? pattern.enumerate()
                                               : pattern.sample_distinct(kMaxCandidates, generator).value();
  // Fisher-Yates with the seeded generator: the order is the same on every platform.
  for (size_t i = candidates.size(); i > 1; --i) {
    std::swap(candidates[i - 1], candidates[generator.next_below(i)]);
  }

  std::vector<moe::ExpertUid> chosen;
  size_t checked = 0;
  while (chosen.size() < count && checked < candidates.size()) {
    const size_t batch = std::min(kLookupBatch, candidates.size() - checked);
    const std::span<const moe::ExpertUid> uids(candidates.data() + checked, batch);
    const std::vector<std::optional<moe::ExpertLocation>> found = moe::find_experts(dht, uids);
    for (size_t i = 0; i < batch && chosen.size() < count; ++i) {
      if (!found[i].has_value() || found[i]->peer == self) chosen.push_back(uids[i]);
    }
    checked += batch;
  }
  if (chosen.size() < count) {
    return Status::error(str_cat("expert pattern '", pattern.to_string(), "': only ", chosen.size(),
                                 " of the ", checked, " uids checked are free (", count,
                                 " needed); the others are served already"));
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace hive::tools
