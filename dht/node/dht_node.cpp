#include "dht/node/dht_node.h"

#include <algorithm>
#include <string>

#include "dht/node/record_handoff.h"
#include "dht/ownership/owner.h"
#include "net/core/log.h"

namespace hive::dht {
namespace {

// Items that put `record` into another node's storage or cache as it is, proofs included: one
// per subkey.
std::vector<StoreItem> items_of(const DhtId& key, const Record& record, const std::optional<Bytes>& key_name) {
  std::vector<StoreItem> items;
  if (!record.is_dictionary()) {
    items.push_back(StoreItem{key, std::nullopt, record.plain(), record.expiration, record.signature, key_name});
    return items;
  }
  for (const auto& [subkey, entry] : record.dictionary()) {
    items.push_back(StoreItem{key, subkey, entry.value, entry.expiration, entry.signature, key_name});
  }
  return items;
}

void count(StoreItemOutcome outcome, StoreResult& result) {
  switch (outcome) {
    case StoreItemOutcome::kStored: ++result.stored; break;
    case StoreItemOutcome::kNotNewer: ++result.not_newer; break;
    case StoreItemOutcome::kAlreadyExpired:
    case StoreItemOutcome::kRefused: ++result.refused; break;
  }
}

}  // namespace

Record merge_records(Record held, const Record& other) {
  if (held.is_dictionary() && other.is_dictionary()) {
    auto& merged = std::get<Dictionary>(held.value);
    for (const auto& [subkey, entry] : other.dictionary()) {
      auto [at, added] = merged.try_emplace(subkey, entry);
      if (!added && entry.expiration > at->second.expiration) at->second = entry;
    }
    held.expiration = std::max(held.expiration, other.expiration);
    if (!held.owner) held.owner = other.owner;
    return held;
  }
  return other.expiration > held.expiration ? other : held;
}

DhtNode::DhtNode(DhtTransport& transport, Scheduler& scheduler, NodeInfo self, const Clock& clock,
                 uint64_t seed, DhtNodeOptions options)
    : protocol_(transport, scheduler, std::move(self), clock, options.protocol),
      scheduler_(scheduler),
      clock_(clock),
      random_(seed),
      options_(std::move(options)) {
  protocol_.on_node_added([this](const NodeInfo& node) { hand_off_records(node); });
}

DhtNode::~DhtNode() {
  *alive_ = false;
  scheduler_.cancel(maintenance_);
  for (const auto& [key, cached] : cached_keys_) scheduler_.cancel(cached.refresh);
}

void DhtNode::bootstrap(std::vector<net::SocketAddress> initial_peers, StatusCallback done) {
  initial_peers_ = std::move(initial_peers);
  if (!maintaining_) schedule_maintenance();
  ping_initial_peers([this, alive = alive_, done = std::move(done)](net::Status status) {
    if (!*alive) return;
    if (!status.is_ok()) {
      done(std::move(status));
      return;
    }
    // Looking up our own id fills the table with our neighbours and tells them about us.
    lookup(self().id, LookupOptions{options_.parallelism, protocol_.options().bucket_size, std::nullopt},
           [done](LookupResult) { done(net::Status::ok()); });
  });
}

void DhtNode::hand_off_records(const NodeInfo& newcomer) {
  LocalStorage& storage = protocol_.storage();
  const std::vector<DhtId> keys =
      keys_to_hand_off(protocol_.routing_table(), storage.keys(), newcomer.id, options_.replicas);
  std::vector<StoreItem> items;
  for (const DhtId& key : keys) {
    std::optional<Record> record = storage.get(key);
    // An owned key's record needs the key's name to prove its owner to the newcomer, and names
    // are not kept: its owner's next store will reach the newcomer. (Owned subkeys carry their
    // proof and are handed over.)
    if (!record || record->owner) continue;
    for (StoreItem& item : items_of(key, *record, std::nullopt)) items.push_back(std::move(item));
  }
  if (items.empty()) return;
  ++stats_.handoffs;
  stats_.handed_off_items += items.size();
  // In requests a peer accepts: at most max_items items, and about kHandoffRequestBytes each so a
  // large record set does not become one huge message.
  constexpr size_t kHandoffRequestBytes = 1 << 20;
  const size_t max_items = protocol_.options().message_limits.max_items;
  std::vector<StoreItem> batch;
  size_t batch_bytes = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    batch_bytes += items[i].value.size() + (items[i].subkey ? items[i].subkey->size() : 0);
    batch.push_back(std::move(items[i]));
    if (i + 1 == items.size() || batch.size() == max_items || batch_bytes >= kHandoffRequestBytes) {
      protocol_.call_store(newcomer, std::move(batch), false, [](net::Result<StoreResponse>) {});
      batch.clear();
      batch_bytes = 0;
    }
  }
}

void DhtNode::ping_initial_peers(StatusCallback done) {
  if (initial_peers_.empty()) {
    done(net::Status::ok());  // the first node of a swarm
    return;
  }
  struct Progress {
    size_t waiting = 0;
    size_t answered = 0;
    std::string failures;
    StatusCallback done;
  };
  bootstrapping_ = true;
  auto progress = std::make_shared<Progress>(Progress{initial_peers_.size(), 0, {}, std::move(done)});
  for (const net::SocketAddress& peer : initial_peers_) {
    protocol_.call_ping(peer, [this, alive = alive_, progress, peer](net::Result<PingResponse> pong) {
      if (pong.is_ok()) {
        ++progress->answered;
      } else {
        progress->failures += net::str_cat(progress->failures.empty() ? "" : "; ", peer.to_string(), ": ",
                                            pong.status().to_string());
      }
      if (--progress->waiting > 0 || !*alive) return;
      bootstrapping_ = false;
      if (progress->answered > 0) {
        progress->done(net::Status::ok());
        return;
      }
      progress->done(net::Status(
          net::StatusCode::kUnavailable,
          net::str_cat("DHT bootstrap: none of the ", initial_peers_.size(),
                       " initial peers answered (", progress->failures, ")")));
    });
  }
}

void DhtNode::lookup(const DhtId& key, LookupOptions options, LookupCallback done) {
  ++stats_.lookups;
  // Any lookup inside a bucket's range refreshes that bucket (Kademlia).
  protocol_.routing_table().mark_refreshed(key, clock_.now());
  start_lookup(protocol_, key, options, [this, alive = alive_, done = std::move(done)](LookupResult result) {
    if (!*alive) return;
    stats_.lookup_requests += result.requests;
    done(std::move(result));
  });
}

void DhtNode::store(std::vector<StoreItem> items, StoreCallback done) {
  ++stats_.stores;
  if (items.empty()) {
    done({});
    return;
  }
  std::map<DhtId, std::vector<size_t>> by_key;
  for (size_t i = 0; i < items.size(); ++i) by_key[items[i].key].push_back(i);
  struct Progress {
    std::vector<StoreResult> results;
    size_t waiting = 0;
    StoreCallback done;
  };
  auto progress = std::make_shared<Progress>(Progress{std::vector<StoreResult>(items.size()), by_key.size(), std::move(done)});
  for (auto& [key, indices] : by_key) {
    std::vector<StoreItem> key_items;
    for (size_t index : indices) key_items.push_back(std::move(items[index]));
    store_key(key, std::move(key_items), [progress, indices](std::vector<StoreResult> results) {
      for (size_t i = 0; i < indices.size(); ++i) progress->results[indices[i]] = results[i];
      if (--progress->waiting == 0) progress->done(std::move(progress->results));
    });
  }
}

void DhtNode::store_key(const DhtId& key, std::vector<StoreItem> items,
                        std::function<void(std::vector<StoreResult>)> done) {
  // The lookup ends once the `replicas` nearest live nodes have answered, as OpenDHT's announce
  // waits for its target nodes only; hivemind hears from a beam of 20. The nearest nodes know
  // their own neighbourhood best, so the wider beam adds requests (20 finds per store instead of
  // 5), not placement: in simulation every copy lands on the key's true nearest nodes (brute
  // force) at 1,000 and 10,000 nodes either way.
  lookup(key, LookupOptions{options_.parallelism, options_.replicas, std::nullopt},
         [this, key, items = std::move(items), done = std::move(done)](LookupResult lookup) mutable {
    std::vector<NodeInfo> targets = std::move(lookup.nearest);
    if (targets.size() > options_.replicas) targets.resize(options_.replicas);
    // This node holds a replica too when it is among the nearest (never in client mode).
    const bool self_is_replica =
        protocol_.options().mode == NodeMode::kServer &&
        (targets.size() < options_.replicas || (self().id ^ key) < (targets.back().id ^ key));
    if (self_is_replica && targets.size() == options_.replicas) targets.pop_back();

    struct Progress {
      std::vector<StoreResult> results;
      size_t waiting = 0;
      std::function<void(std::vector<StoreResult>)> done;
    };
    auto progress = std::make_shared<Progress>(Progress{std::vector<StoreResult>(items.size()), targets.size(), std::move(done)});
    if (self_is_replica) {
      for (size_t i = 0; i < items.size(); ++i) count(protocol_.store_local(items[i], false), progress->results[i]);
    }
    if (targets.empty()) {
      progress->done(std::move(progress->results));
      return;
    }
    for (const NodeInfo& target : targets) {
      protocol_.call_store(target, items, false, [progress](net::Result<StoreResponse> response) {
        for (size_t i = 0; i < progress->results.size(); ++i) {
          const bool answered = response.is_ok() && response.value().outcomes.size() == progress->results.size();
          if (answered) {
            count(response.value().outcomes[i], progress->results[i]);
          } else {
            ++progress->results[i].failed;
          }
        }
        if (--progress->waiting == 0) progress->done(std::move(progress->results));
      });
    }
  });
}

std::optional<Record> DhtNode::local_record(const DhtId& key) {
  std::optional<Record> stored = protocol_.storage().get(key);
  std::optional<Record> cached = protocol_.cache().get(key);
  if (stored && cached) return merge_records(std::move(*stored), *cached);
  return stored ? std::move(stored) : std::move(cached);
}

void DhtNode::get(const DhtId& key, GetOptions options, GetCallback done) {
  ++stats_.gets;
  const DhtTime sufficient = options.sufficient_expiration.value_or(clock_.now());
  if (!options.latest) {
    std::optional<Record> record = local_record(key);
    if (record && record->expiration >= sufficient) {
      ++stats_.gets_answered_locally;
      if (auto cached = cached_keys_.find(key); cached != cached_keys_.end()) cached->second.read_since_fetch = true;
      done(GetResult{std::move(record), true, 0, 0});
      return;
    }
  }
  auto [pending, first] = pending_gets_.try_emplace({key, options.latest});
  pending->second.waiting.push_back(std::move(done));
  if (!pending->second.key_name) pending->second.key_name = std::move(options.key_name);
  if (!first) {
    ++stats_.gets_sharing_a_lookup;
    return;
  }
  LookupOptions lookup_options{options_.parallelism, protocol_.options().bucket_size, std::nullopt,
                               options_.dictionary_views, true};
  if (!options.latest) lookup_options.stop_at_expiration = sufficient;
  lookup(key, lookup_options, [this, key, latest = options.latest](LookupResult result) {
    finish_get(key, latest, std::move(result));
  });
}

void DhtNode::finish_get(const DhtId& key, bool latest, LookupResult lookup) {
  auto pending = pending_gets_.extract({key, latest});
  const std::optional<Bytes>& key_name = pending.mapped().key_name;
  std::optional<Record> record = local_record(key);
  bool found_any = false;
  for (FoundAt& found : lookup.found) {
    // A responder may lie: keep only what the owners named in the key or subkeys signed.
    if (!drop_unverified(key_name, key, found.record)) continue;
    found_any = true;
    record = record ? merge_records(std::move(*record), found.record) : std::move(found.record);
  }
  if (found_any) cache_found(key, *record, key_name, lookup);
  const GetResult result{std::move(record), false, lookup.rounds, lookup.requests};
  for (GetCallback& done : pending.mapped().waiting) done(result);
}

void DhtNode::cache_found(const DhtId& key, const Record& record, const std::optional<Bytes>& key_name,
                          const LookupResult& lookup) {
  const std::vector<StoreItem> items = items_of(key, record, key_name);
  if (options_.cache_locally) {
    for (const StoreItem& item : items) protocol_.store_local(item, true);
    track_cached(key, record.expiration, key_name);
  }
  const size_t copies = std::min(options_.cache_nearest, lookup.without_record.size());
  for (size_t i = 0; i < copies; ++i) {
    protocol_.call_store(lookup.without_record[i], items, true, [](net::Result<StoreResponse>) {});
  }
}

void DhtNode::track_cached(const DhtId& key, DhtTime expiration, const std::optional<Bytes>& key_name) {
  auto [entry, added] = cached_keys_.try_emplace(key);
  if (!added) scheduler_.cancel(entry->second.refresh);
  entry->second.expiration = expiration;
  entry->second.key_name = key_name;
  entry->second.read_since_fetch = false;
  const DhtTime wait_ms = std::max<DhtTime>(expiration - options_.refresh_before_expiry_ms - clock_.now(), 0);
  entry->second.refresh = scheduler_.after(std::chrono::milliseconds(wait_ms), [this, alive = alive_, key] {
    if (*alive) refresh_cached(key);
  });
}

void DhtNode::refresh_cached(const DhtId& key) {
  auto entry = cached_keys_.find(key);
  if (entry == cached_keys_.end()) return;
  const CachedKey cached = entry->second;
  cached_keys_.erase(entry);
  if (!cached.read_since_fetch) return;  // no longer in use: let it expire
  ++stats_.cache_refreshes;
  // Only a record that outlives the cached copy is worth stopping at.
  get(key, GetOptions{false, cached.expiration + 1, cached.key_name}, [](GetResult) {});
}

void DhtNode::schedule_maintenance() {
  maintaining_ = true;
  maintenance_ = scheduler_.after(options_.maintenance_period, [this, alive = alive_] {
    if (*alive) maintain();
  });
}

void DhtNode::maintain() {
  if (protocol_.routing_table().size() == 0 && !initial_peers_.empty() && !bootstrapping_) {
    net::log(net::LogLevel::kInfo, "DHT node ", self().address.to_string(),
             ": routing table empty, bootstrapping again");
    bootstrap(initial_peers_, [](net::Status status) {
      if (!status.is_ok()) net::log(net::LogLevel::kWarning, status.to_string());
    });
  }
  const DhtTime now = clock_.now();
  for (const DhtId& id : protocol_.routing_table().stale_buckets(now, options_.bucket_refresh_period_ms, random_)) {
    ++stats_.bucket_refreshes;
    lookup(id, LookupOptions{options_.parallelism, protocol_.options().bucket_size, std::nullopt},
           [](LookupResult) {});
  }
  protocol_.storage().purge_expired();
  protocol_.cache().purge_expired();
  schedule_maintenance();
}

}  // namespace hive::dht
