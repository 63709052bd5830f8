#include "dht/node/dht_protocol.h"

#include "net/core/log.h"

namespace hive::dht {
namespace {

net::Message message_of(Bytes metadata) {
  net::Message message;
  message.metadata = std::move(metadata);
  return message;
}

}  // namespace

DhtProtocol::DhtProtocol(net::Endpoint& endpoint, NodeInfo self, const Clock& clock,
                         ProtocolOptions options)
    : endpoint_(endpoint),
      self_(std::move(self)),
      clock_(clock),
      options_(std::move(options)),
      routing_table_(self_.id, clock.now(), options_.bucket_size, options_.depth_modulo),
      storage_(clock, options_.storage),
      cache_(clock, options_.cache) {
  if (options_.mode == NodeMode::kClient) return;
  HIVE_NET_CHECK(endpoint_.loop().on_loop_thread(), "a DhtProtocol is created on the I/O thread");
  endpoint_.register_handler(std::string(kPingMethod), [this](net::IncomingCall call) { serve_ping(std::move(call)); });
  endpoint_.register_handler(std::string(kStoreMethod), [this](net::IncomingCall call) { serve_store(std::move(call)); });
  endpoint_.register_handler(std::string(kFindMethod), [this](net::IncomingCall call) { serve_find(std::move(call)); });
}

DhtProtocol::~DhtProtocol() {
  *alive_ = false;  // replies still in flight find nobody to call back
  if (options_.mode == NodeMode::kClient) return;
  for (std::string_view method : {kPingMethod, kStoreMethod, kFindMethod}) {
    endpoint_.unregister_handler(std::string(method));
  }
}

std::optional<NodeInfo> DhtProtocol::sender() const {
  if (options_.mode == NodeMode::kClient) return std::nullopt;
  return self_;
}

template <typename Response>
void DhtProtocol::call(const net::SocketAddress& to, std::string_view method, Bytes request,
                       std::optional<DhtId> callee, Callback<Response> done) {
  net::CallOptions call_options;
  call_options.timeout = options_.rpc_timeout;
  endpoint_.call_datagram(
      to, std::string(method), message_of(std::move(request)), call_options,
      [this, alive = alive_, callee, limits = options_.message_limits,
       done = std::move(done)](net::Result<net::Reply> reply) {
        if (!*alive) return;
        if (!reply.is_ok()) {
          ++stats_.calls_failed;
          if (callee) failed(*callee);
          done(reply.status());
          return;
        }
        net::Result<Response> response = decode_as<Response>(reply.value().message.metadata, limits);
        if (!response.is_ok()) {
          ++stats_.calls_failed;
          if (callee) failed(*callee);
        } else if (callee) {
          heard_from(NodeInfo{*callee, reply.value().peer.address});
        }
        done(std::move(response));
      });
}

void DhtProtocol::call_ping(const net::SocketAddress& to, Callback<PingResponse> done) {
  call<PingResponse>(to, kPingMethod, encode_ping_request(PingRequest{sender()}), std::nullopt,
                     [this, to, done = std::move(done)](net::Result<PingResponse> response) {
                       if (response.is_ok()) {
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

void DhtProtocol::heard_from(const NodeInfo& node) {
  const AddResult added = routing_table_.add_or_update(node.id, node.address, clock_.now());
  if (added.outcome != AddOutcome::kBucketFullPingOldest) return;
  // Ping-before-evict: the oldest node keeps its place if it still answers.
  const RoutingEntry oldest = *added.to_ping;
  call<PingResponse>(oldest.address, kPingMethod, encode_ping_request(PingRequest{sender()}), oldest.id,
                     [](net::Result<PingResponse>) {});
}

void DhtProtocol::failed(const DhtId& node) { routing_table_.remove(node); }

NodeInfo DhtProtocol::observed(const NodeInfo& claimed, const net::IncomingCall& call) {
  // A datagram comes from the sender's endpoint socket itself: trust the address it came from
  // over the one it claims (which could point the table at a third party). Over TCP the source
  // port is an ephemeral one, so the claim is all there is.
  if (call.transport == net::Transport::kDatagram) return NodeInfo{claimed.id, call.peer.address};
  return claimed;
}

template <typename Request>
std::optional<Request> DhtProtocol::accept(const net::IncomingCall& call) {
  net::Result<Request> request = decode_as<Request>(call.request.metadata, options_.message_limits);
  if (!request.is_ok()) {
    ++stats_.requests_malformed;
    call.responder->respond(request.status());
    return std::nullopt;
  }
  ++stats_.requests_served;
  if (request.value().sender) heard_from(observed(*request.value().sender, call));
  return std::move(request).value();
}

void DhtProtocol::serve_ping(net::IncomingCall call) {
  std::optional<PingRequest> request = accept<PingRequest>(call);
  if (!request) return;
  call.responder->respond(message_of(encode_ping_response(PingResponse{self_, clock_.now()})));
}

void DhtProtocol::serve_store(net::IncomingCall call) {
  std::optional<StoreRequest> request = accept<StoreRequest>(call);
  if (!request) return;
  StoreRequest& store = *request;
  LocalStorage& target = store.in_cache ? cache_ : storage_;
  StoreResponse response;
  response.outcomes.reserve(store.items.size());
  for (StoreItem& item : store.items) {
    // Records that name an owner need a signature check; until validators exist, signed items
    // are refused rather than stored unchecked.
    if (item.signature) {
      response.outcomes.push_back(StoreItemOutcome::kRefused);
      continue;
    }
    auto outcome = target.store(item.key, std::move(item.value), item.expiration, std::move(item.subkey));
    response.outcomes.push_back(outcome.is_ok() ? to_store_item_outcome(outcome.value())
                                                : StoreItemOutcome::kRefused);
  }
  call.responder->respond(message_of(encode_store_response(response)));
}

FoundRecord DhtProtocol::find_local(const DhtId& key, const std::optional<DhtId>& asker) {
  FoundRecord found;
  found.key = key;
  std::optional<Record> stored = storage_.get(key);
  std::optional<Record> cached = cache_.get(key);
  // The fresher of the two: a cached copy may be newer than an old stored one, or vice versa.
  if (stored && cached) {
    found.record = stored->expiration >= cached->expiration ? std::move(stored) : std::move(cached);
  } else {
    found.record = stored ? std::move(stored) : std::move(cached);
  }
  for (const RoutingEntry& entry : routing_table_.nearest(key, options_.nearest_per_find, asker)) {
    found.nearest.push_back(NodeInfo{entry.id, entry.address});
  }
  return found;
}

void DhtProtocol::serve_find(net::IncomingCall call) {
  std::optional<FindRequest> request = accept<FindRequest>(call);
  if (!request) return;
  const FindRequest& find = *request;
  std::optional<DhtId> asker;
  if (find.sender) asker = find.sender->id;
  FindResponse response;
  response.records.reserve(find.keys.size());
  for (const DhtId& key : find.keys) response.records.push_back(find_local(key, asker));
  call.responder->respond(message_of(encode_find_response(response)));
}

}  // namespace hive::dht
