// What a prefix record (moe/uid/prefix_records.h) says is alive below a prefix, as beam search
// reads it. The record is a peer's input: subkeys that spell no index of the grid, values that
// are not an expert location, and locations of experts that are not below the prefix are
// dropped, as are subkeys that have expired.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "dht/storage/record.h"
#include "moe/protocol/expert_location.h"

namespace hive::moe {

struct PrefixChild {
  // The next index; kFlatExpertSubkey when the prefix of a 1-d grid names its expert itself.
  int64_t index = 0;
  // Set when the child is a complete expert (the prefix is one index short of the grid's
  // dimensions, or a 1-d grid's "ffn.i."); a deeper prefix otherwise.
  std::shared_ptr<const ExpertLocation> expert;
};

// Empty: nothing alive below the prefix.
using PrefixContents = std::vector<PrefixChild>;

// coords: the prefix's indices, 1 <= size < grid.size() (size 1 for a 1-d grid); `now` drops
// expired subkeys.
PrefixContents read_prefix_record(const std::optional<dht::Record>& record,
                                  std::string_view uid_prefix, std::span<const int64_t> grid,
                                  std::span<const int64_t> coords, dht::DhtTime now);

}  // namespace hive::moe
