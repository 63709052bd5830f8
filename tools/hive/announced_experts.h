// What the DHT shows is alive under a uid prefix: every expert of the grid that some server
// announces now, with where it is served and when its announcement expires. `hive swarm` prints
// it. It reads the prefix records (moe/uid/prefix_records.h) level by level, as beam search
// does, but exhaustively: "ffn.<i>." for every i of the first dimension, then every deeper prefix
// those records name, down to the experts.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dht/node/dht_runner.h"
#include "moe/protocol/expert_location.h"

namespace hive::tools {

struct AnnouncedExpert {
  moe::ExpertLocation location;
  // When the newest announcement of the expert that the DHT holds expires (ms since the epoch).
  dht::DhtTime expiration = 0;
};

// Sorted by uid. At most `max_gets_in_flight` (>= 1) DHT gets run at once. uid_prefix and grid
// are checked by the caller (non-empty prefix without '.', every size >= 1).
std::vector<AnnouncedExpert> find_announced_experts(dht::DhtRunner& dht, const std::string& uid_prefix,
                                                    const std::vector<int64_t>& grid,
                                                    size_t max_gets_in_flight);

}  // namespace hive::tools
