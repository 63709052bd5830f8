// How `hive swarm` shows what the DHT holds under a uid prefix: a table for people (servers,
// then experts, then totals) or one JSON object for scripts.
//
// The DHT keeps only an announcement's expiration, not when it was made. A server announces
// every period P with an expiration of 2P, so the age of an announcement is 2P - (time left);
// that needs P, which the record does not carry: the report estimates it with an assumed P and
// says so, and shows no age where the estimate comes out negative (a server with a longer P).
#pragma once

#include <string>
#include <vector>

#include "tools/hive/announced_experts.h"

namespace hive::tools {

struct SwarmView {
  std::string uid_prefix;
  std::vector<int64_t> grid;
  dht::DhtTime now = 0;  // just before the records were read
  double assumed_announce_period_s = 30;
  std::vector<AnnouncedExpert> experts;  // sorted by uid
  size_t dht_peers_known = 0;            // this client's routing table after the reads
};

std::string swarm_table(const SwarmView& view);
// One line: {"uid_prefix", "grid", "now_ms", "assumed_announce_period_s", "servers": [...],
// "experts": [...], "totals": {...}}; "age_s" is null where the estimate is negative.
std::string swarm_json(const SwarmView& view);

}  // namespace hive::tools
