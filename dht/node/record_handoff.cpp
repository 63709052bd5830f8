#include "dht/node/record_handoff.h"

#include <algorithm>

namespace hive::dht {

std::vector<DhtId> keys_to_hand_off(const RoutingTable& table, const std::vector<DhtId>& keys,
                                    const DhtId& newcomer, size_t replicas) {
  std::vector<DhtId> chosen;
  if (replicas == 0) return chosen;
  for (const DhtId& key : keys) {
    const DhtId own_distance = table.node_id() ^ key;
    const DhtId newcomer_distance = newcomer ^ key;
    // Nodes nearer to the key than the newcomer, this one included. The table's `replicas`
    // nearest (and at least two, so that one is not the newcomer) tell both conditions, as
    // everything past them is farther.
    size_t nearer_than_newcomer = own_distance < newcomer_distance ? 1 : 0;
    bool nearest_other_is_farther = true;
    bool newcomer_seen = false;
    for (const RoutingEntry& entry : table.nearest(key, std::max<size_t>(replicas, 2))) {
      if (entry.id == newcomer) {
        newcomer_seen = true;
        continue;
      }
      const DhtId distance = entry.id ^ key;
      if (distance < own_distance) {
        nearest_other_is_farther = false;
        break;
      }
      if (!newcomer_seen) ++nearer_than_newcomer;
    }
    if (nearest_other_is_farther && newcomer_seen && nearer_than_newcomer < replicas) chosen.push_back(key);
  }
  return chosen;
}

}  // namespace hive::dht
