// Picking the uids a new server serves from a pattern (hivemind's generate_uids_from_pattern):
// uids that the DHT already names a server for are skipped, so servers started with the same
// pattern spread over the grid instead of doubling up. Two servers that start at the same moment
// may still pick the same uid (the DHT has no compare-and-set); each then serves its own copy.
#pragma once

#include <cstdint>
#include <vector>

#include "dht/node/dht_runner.h"
#include "engine/core/status.h"
#include "moe/uid/uid_pattern.h"
#include "net/identity/identity.h"

namespace hive::tools {

// `count` distinct uids of `pattern` that no other peer serves now, chosen at random (the same
// for the same seed and the same DHT contents), in ascending order. Uids announced by `self`
// (this identity's earlier run) count as free. An error says how many were free when fewer than
// `count` are.
Result<std::vector<moe::ExpertUid>> choose_free_uids(dht::DhtRunner& dht, const moe::UidPattern& pattern,
                                                     uint64_t count, uint64_t seed, const net::PeerId& self);

}  // namespace hive::tools
