// Kademlia's join step (Maymounkov and Mazieres, section 2.5): a node that learns of a new node
// sends it the records it should now hold, so that copies follow the nodes nearest their keys
// as nodes join, rather than waiting for the records' next store (hivemind has no such step: a
// key whose nearest nodes are all newcomers is found only by a lookup that goes on past them).
// So that the replicas of a key do not all send it, a node hands over only the keys it is itself
// nearest to among the nodes it knows, the newcomer aside; and only those the newcomer is now
// one of the `replicas` nearest nodes of (this node counted).
#pragma once

#include <cstddef>
#include <vector>

#include "dht/core/dht_id.h"
#include "dht/routing/routing_table.h"

namespace hive::dht {

// Of `keys` (held by the table's own node), those to send to `newcomer`, which the table
// already holds; in the order of `keys`. One nearest-node query of the table per key.
std::vector<DhtId> keys_to_hand_off(const RoutingTable& table, const std::vector<DhtId>& keys,
                                    const DhtId& newcomer, size_t replicas);

}  // namespace hive::dht
