#include "moe/client/prefix_contents.h"

#include <algorithm>

#include "moe/uid/prefix_records.h"
#include "moe/uid/prefix_subkey.h"

namespace hive::moe {
namespace {

// Whether `uid` is below the prefix (uid_prefix, below...): its first indices are `below`, and it
// has one index per grid dimension.
bool is_below(const ExpertUid& uid, std::string_view uid_prefix, size_t dimensions,
              std::span<const int64_t> below) {
  return uid.prefix() == uid_prefix && uid.dimensions() == dimensions &&
         std::equal(below.begin(), below.end(), uid.indices().begin());
}

}  // namespace

PrefixContents read_prefix_record(const std::optional<dht::Record>& record,
                                  std::string_view uid_prefix, std::span<const int64_t> grid,
                                  std::span<const int64_t> coords, dht::DhtTime now) {
  PrefixContents contents;
  if (!record || !record->is_dictionary()) return contents;
  const bool flat = grid.size() == 1;
  const size_t depth = coords.size();
  const bool children_are_experts = flat || depth + 1 == grid.size();
  std::vector<int64_t> below(coords.begin(), coords.end());
  if (!flat) below.push_back(0);
  for (const auto& [subkey, timed] : record->dictionary()) {
    if (timed.expiration <= now) continue;
    const std::optional<int64_t> index = decode_prefix_subkey(subkey);
    if (!index) continue;
    if (flat ? *index != kFlatExpertSubkey : *index < 0 || *index >= grid[depth]) continue;
    if (!flat) below.back() = *index;
    Result<ExpertLocation> location = decode_expert_location(timed.value);
    if (!location.is_ok() || !is_below(location.value().uid, uid_prefix, grid.size(), below)) {
      continue;
    }
    PrefixChild child{*index, nullptr};
    if (children_are_experts) {
      child.expert = std::make_shared<const ExpertLocation>(std::move(location).value());
    }
    contents.push_back(std::move(child));
  }
  return contents;
}

}  // namespace hive::moe
