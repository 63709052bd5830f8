#include "dht/node/dht_protocol.h"

#include "dht/ownership/owner.h"
#include "net/core/log.h"

namespace hive::dht {

DhtProtocol::DhtProtocol(DhtTransport& transport, Scheduler& scheduler, NodeInfo self,
                         const Clock& clock, ProtocolOptions options)
    : transport_(transport),
      scheduler_(scheduler),
      self_(std::move(self)),
      clock_(clock),
      options_(std::move(options)),
      routing_table_(self_.id, clock.now(), options_.bucket_size, options_.depth_modulo),
      storage_(clock, options_.storage),
      cache_(clock, options_.cache),
      peer_health_(options_.peer_health) {
  if (options_.mode == NodeMode::kClient) return;
  transport_.serve(kPingMethod, [this](DhtRequest request) { serve_ping(std::move(request)); });
  transport_.serve(kStoreMethod, [this](DhtRequest request) { serve_store(std::move(request)); });
  transport_.serve(kFindMethod, [this](DhtRequest request) { serve_find(std::move(request)); });
}

DhtProtocol::~DhtProtocol() {
  *alive_ = false;  // replies still in flight find nobody to call back
  if (options_.mode == NodeMode::kClient) return;
  for (std::string_view method : {kPingMethod, kStoreMethod, kFindMethod}) {
    transport_.stop_serving(method);
  }
}

std::optional<NodeInfo> DhtProtocol::sender() const {
  if (options_.mode == NodeMode::kClient) return std::nullopt;
  return self_;
}

template <typename Response>
void DhtProtocol::call(const net::SocketAddress& to, std::string_view method, Bytes request,
                       std::optional<DhtId> callee, Callback<Response> done) {
  transport_.call(
      to, method, std::move(request), options_.rpc_timeout,
      [this, alive = alive_, to, callee, sent = scheduler_.now(), limits = options_.message_limits,
       done = std::move(done)](net::Result<Bytes> reply) {
        if (!*alive) return;
        if (!reply.is_ok()) {
          ++stats_.calls_failed;
          if (callee) failed(*callee);
          done(reply.status());
          return;
        }
        net::Result<Response> response = decode_as<Response>(reply.value(), limits);
        if (!response.is_ok()) {
          ++stats_.calls_failed;
          if (callee) failed(*callee);
        } else if (callee) {
          peer_health_.answered(*callee, scheduler_.now() - sent);
          heard_from(NodeInfo{*callee, to});
        }
        done(std::move(response));
      });
}

void DhtProtocol::call_ping(const net::SocketAddress& to, Callback<PingResponse> done) {
  call<PingResponse>(to, kPingMethod, encode_ping_request(PingRequest{sender()}), std::nullopt,
                     [this, to, sent = scheduler_.now(), done = std::move(done)](net::Result<PingResponse> response) {
                       if (response.is_ok()) {
                         peer_health_.answered(response.value().responder.id, scheduler_.now() - sent);
                         const PingResponse& pong = response.value();
                         const DhtTime skew = pong.dht_time - clock_.now();
                         if (skew > options_.max_clock_skew_ms || -skew > options_.max_clock_skew_ms) {
                           ++stats_.peers_with_skewed_clocks;
                           net::log(net::LogLevel::kWarning, "DHT peer ", to.to_string(), "'s clock is off by ",
                                    skew, " ms (limit ", options_.max_clock_skew_ms,
                                    "): its records' expirations will be wrong");
                         }
                         // The answer names the responder; it is heard at the address we called.
                         heard_from(NodeInfo{pong.responder.id, to});
                       }
                       done(std::move(response));
                     });
}

void DhtProtocol::call_store(const NodeInfo& to, std::vector<StoreItem> items, bool in_cache,
                             Callback<StoreResponse> done) {
  StoreRequest request{sender(), std::move(items), in_cache};
  call<StoreResponse>(to.address, kStoreMethod, encode_store_request(request), to.id, std::move(done));
}

void DhtProtocol::call_find(const NodeInfo& to, std::vector<DhtId> keys, Callback<FindResponse> done) {
  FindRequest request{sender(), std::move(keys)};
  call<FindResponse>(to.address, kFindMethod, encode_find_request(request), to.id, std::move(done));
}

void DhtProtocol::check_sender(const std::optional<NodeInfo>& sender, const DhtRequest& request) {
  if (!sender) return;
  const NodeInfo claimed = observed(*sender, request);
  if (const auto known = routing_table_.find(claimed.id); known && known->address == claimed.address) {
    heard_from(claimed);
    return;
  }
  if (checking_senders_.size() >= options_.max_sender_checks) {
    ++stats_.sender_checks_skipped;
    return;
  }
  if (!checking_senders_.insert(claimed.address).second) return;  // its answer is awaited
  ++stats_.sender_checks;
  // The answer adds the responder under the id it gives (call_ping).
  call_ping(claimed.address,
            [this, address = claimed.address](net::Result<PingResponse>) { checking_senders_.erase(address); });
}

void DhtProtocol::heard_from(const NodeInfo& node) {
  const AddResult added = routing_table_.add_or_update(node.id, node.address, clock_.now());
  if (added.outcome == AddOutcome::kAdded && on_node_added_) on_node_added_(node);
  if (added.outcome != AddOutcome::kBucketFullPingOldest) return;
  // Ping-before-evict: the oldest node keeps its place if it still answers.
  const RoutingEntry oldest = *added.to_ping;
  call<PingResponse>(oldest.address, kPingMethod, encode_ping_request(PingRequest{sender()}), oldest.id,
                     [](net::Result<PingResponse>) {});
}

void DhtProtocol::failed(const DhtId& node) {
  routing_table_.remove(node);
  peer_health_.failed(node, scheduler_.now());
}

NodeInfo DhtProtocol::observed(const NodeInfo& claimed, const DhtRequest& request) {
  // A datagram comes from the sender's endpoint socket itself: trust the address it came from
  // over the one it claims (which could point the table at a third party). Over TCP the source
  // port is an ephemeral one, so the claim is all there is.
  if (request.from_own_endpoint) return NodeInfo{claimed.id, request.from};
  return claimed;
}

template <typename Request>
std::optional<Request> DhtProtocol::accept(const DhtRequest& incoming) {
  net::Result<Request> request = decode_as<Request>(incoming.bytes, options_.message_limits);
  if (!request.is_ok()) {
    ++stats_.requests_malformed;
    incoming.respond(request.status());
    return std::nullopt;
  }
  ++stats_.requests_served;
  return std::move(request).value();
}

void DhtProtocol::serve_ping(DhtRequest incoming) {
  std::optional<PingRequest> request = accept<PingRequest>(incoming);
  if (!request) return;
  incoming.respond(encode_ping_response(PingResponse{self_, clock_.now()}));
  check_sender(request->sender, incoming);
}

void DhtProtocol::serve_store(DhtRequest incoming) {
  std::optional<StoreRequest> request = accept<StoreRequest>(incoming);
  if (!request) return;
  StoreRequest& store = *request;
  StoreResponse response;
  response.outcomes.reserve(store.items.size());
  for (StoreItem& item : store.items) response.outcomes.push_back(store_local(std::move(item), store.in_cache));
  incoming.respond(encode_store_response(response));
  check_sender(store.sender, incoming);
}

StoreItemOutcome DhtProtocol::store_local(StoreItem item, bool in_cache) {
  // Forgeries and unsigned values of owned keys or subkeys go no further.
  net::Result<StoreProof> proof = validate_store_item(item);
  if (!proof.is_ok()) return StoreItemOutcome::kRefused;
  LocalStorage& target = in_cache ? cache_ : storage_;
  auto outcome = target.store(item.key, std::move(item.value), item.expiration, std::move(item.subkey),
                              std::move(proof).value());
  return outcome.is_ok() ? to_store_item_outcome(outcome.value()) : StoreItemOutcome::kRefused;
}

FoundRecord DhtProtocol::find_local(const DhtId& key, const std::optional<DhtId>& asker) {
  FoundRecord found;
  found.key = key;
  std::optional<Record> stored = storage_.get(key);
  std::optional<Record> cached = cache_.get(key);
  // The fresher of the two: a cached copy may be newer than an old stored one, or vice versa. An
  // owned copy beats an unowned one whatever the expirations, as in LocalStorage::store: the
  // unowned one is a forgery.
  if (stored && cached) {
    const bool stored_wins = stored->owner.has_value() != cached->owner.has_value()
                                 ? stored->owner.has_value()
                                 : stored->expiration >= cached->expiration;
    found.record = stored_wins ? std::move(stored) : std::move(cached);
  } else {
    found.record = stored ? std::move(stored) : std::move(cached);
  }
  for (const RoutingEntry& entry : routing_table_.nearest(key, options_.nearest_per_find, asker)) {
    found.nearest.push_back(NodeInfo{entry.id, entry.address});
  }
  return found;
}

void DhtProtocol::serve_find(DhtRequest incoming) {
  std::optional<FindRequest> request = accept<FindRequest>(incoming);
  if (!request) return;
  const FindRequest& find = *request;
  std::optional<DhtId> asker;
  if (find.sender) asker = find.sender->id;
  FindResponse response;
  response.records.reserve(find.keys.size());
  for (const DhtId& key : find.keys) response.records.push_back(find_local(key, asker));
  incoming.respond(encode_find_response(response));
  check_sender(find.sender, incoming);
}

}  // namespace hive::dht
