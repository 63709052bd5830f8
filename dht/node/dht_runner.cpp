#include "dht/node/dht_runner.h"

#include <sodium.h>

#include <stdexcept>

#include "dht/ownership/owner.h"

namespace hive::dht {
namespace {

uint64_t random_seed() {
  uint64_t seed = 0;
  randombytes_buf(&seed, sizeof(seed));
  return seed;
}

Bytes bytes_of(std::string_view text) {
  const auto* begin = reinterpret_cast<const std::byte*>(text.data());
  return Bytes(begin, begin + text.size());
}

// Whether the item's key name or subkey names `owner` (so this node can and must sign it).
bool names_owner(const StoreItem& item, const net::PublicKey& owner) {
  auto named = [&](const std::optional<Bytes>& name) {
    if (!name) return false;
    net::Result<std::optional<net::PublicKey>> parsed = owner_named_in(*name);
    return parsed.is_ok() && parsed.value() == owner;
  };
  return named(item.key_name) || named(item.subkey);
}

}  // namespace

template <typename T, typename Start>
std::future<T> DhtRunner::on_loop(Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> result = promise->get_future();
  const bool posted = endpoint_.loop().post([promise, start = std::move(start)]() mutable {
    start([promise](T value) { promise->set_value(std::move(value)); });
  });
  if (!posted) {
    promise->set_exception(std::make_exception_ptr(std::runtime_error("DHT: the I/O loop has stopped")));
  }
  return result;
}

DhtRunner::DhtRunner(net::Endpoint& endpoint, net::SocketAddress advertised, DhtNodeOptions options)
    : endpoint_(endpoint),
      self_{DhtId::from_peer_id(endpoint.identity().peer_id()), advertised},
      transport_(endpoint) {
  endpoint_.loop().run_sync([&] {
    scheduler_ = std::make_unique<LoopScheduler>(endpoint_.loop());
    node_ = std::make_unique<DhtNode>(transport_, *scheduler_, self_, clock_, random_seed(), std::move(options));
  });
}

DhtRunner::~DhtRunner() {
  endpoint_.loop().run_sync([&] {
    node_.reset();
    scheduler_.reset();
  });
}

std::future<net::Status> DhtRunner::bootstrap(std::vector<net::SocketAddress> initial_peers) {
  return on_loop<net::Status>([this, peers = std::move(initial_peers)](auto done) mutable {
    node_->bootstrap(std::move(peers), std::move(done));
  });
}

std::future<std::vector<StoreResult>> DhtRunner::store(std::vector<StoreItem> items) {
  return on_loop<std::vector<StoreResult>>([this, items = std::move(items)](auto done) mutable {
    node_->store(std::move(items), std::move(done));
  });
}

std::future<StoreResult> DhtRunner::store(std::string_view key, Bytes value, DhtTime expiration,
                                          std::optional<Bytes> subkey) {
  StoreItem item{DhtId::of_key(key), std::move(subkey), std::move(value), expiration, std::nullopt, bytes_of(key)};
  if (names_owner(item, endpoint_.identity().public_key())) {
    item.signature = sign_record(endpoint_.identity(), item.key, item.subkey, item.value, expiration);
  }
  return on_loop<StoreResult>([this, item = std::move(item)](auto done) mutable {
    node_->store({std::move(item)}, [done = std::move(done)](std::vector<StoreResult> results) {
      done(results.front());
    });
  });
}

std::future<GetResult> DhtRunner::get(std::string_view key, GetOptions options) {
  options.key_name = bytes_of(key);
  return get(DhtId::of_key(key), std::move(options));
}

std::future<GetResult> DhtRunner::get(const DhtId& key, GetOptions options) {
  return on_loop<GetResult>([this, key, options = std::move(options)](auto done) mutable {
    node_->get(key, std::move(options), std::move(done));
  });
}

DhtSnapshot DhtRunner::snapshot() {
  return endpoint_.loop().run_sync([this] {
    DhtProtocol& protocol = node_->protocol();
    DhtSnapshot snapshot;
    snapshot.self = self_;
    snapshot.routing_table_size = protocol.routing_table().size();
    snapshot.routing_table_buckets = protocol.routing_table().bucket_count();
    snapshot.storage = protocol.storage().stats();
    snapshot.cache = protocol.cache().stats();
    snapshot.node = node_->stats();
    snapshot.protocol = protocol.stats();
    return snapshot;
  });
}

}  // namespace hive::dht
