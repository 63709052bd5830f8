#include "dht/node/lookup.h"

#include <map>

namespace hive::dht {
namespace {

class Lookup : public std::enable_shared_from_this<Lookup> {
 public:
  Lookup(DhtProtocol& protocol, const DhtId& key, LookupOptions options, LookupCallback done)
      : protocol_(protocol), alive_(protocol.alive_token()), key_(key), options_(options),
        done_(std::move(done)) {
    result_.key = key;
  }

  void start() {
    for (const RoutingEntry& entry : protocol_.routing_table().nearest(key_, options_.nearest)) {
      consider(NodeInfo{entry.id, entry.address}, 1);
    }
    step();
  }

 private:
  // kSlow: past its peer's slow threshold, no longer counted against `parallelism` but still
  // awaited; kGaveUp: past the give-up time, no longer awaited (a late answer is still used).
  enum class State { kWaiting, kInFlight, kSlow, kGaveUp, kAnswered, kFailed };
  struct Candidate {
    NodeInfo node;
    State state = State::kWaiting;
    size_t hop = 0;
    Scheduler::TaskId timer = 0;  // the slow timer, then the give-up timer
  };
  using Candidates = std::map<DhtId, Candidate>;  // by distance to the key

  void consider(const NodeInfo& node, size_t hop) {
    if (node.id == protocol_.self().id) return;
    if (protocol_.peer_health().backing_off(node.id, protocol_.scheduler().now())) return;
    auto [entry, added] = candidates_.try_emplace(node.id ^ key_, Candidate{node, State::kWaiting, hop});
    if (!added && entry->second.state == State::kWaiting && hop < entry->second.hop) entry->second.hop = hop;
  }

  // Sends requests while fewer than `parallelism` count against it, then checks for the end:
  // the `nearest` closest nodes that have not failed (or been given up on) have answered.
  void step() {
    if (finished_) return;
    size_t live = 0;
    bool open = false;  // a live candidate among the nearest that has not answered yet
    const bool await_given_up = options_.await_given_up_until_found && result_.found.empty();
    for (auto& [distance, candidate] : candidates_) {
      if (candidate.state == State::kFailed) continue;
      if (candidate.state == State::kGaveUp && !await_given_up) continue;
      if (live++ == options_.nearest) break;
      if (candidate.state == State::kWaiting && in_flight_ < options_.parallelism) {
        send(distance, candidate);
        if (finished_) return;  // a transport may answer at once, and that answer may end it
      }
      if (candidate.state != State::kAnswered) open = true;
    }
    if (!open) finish();
  }

  void send(const DhtId& distance, Candidate& candidate) {
    candidate.state = State::kInFlight;
    ++in_flight_;
    ++result_.requests;
    const PeerHealth& health = protocol_.peer_health();
    const auto slow_after = health.slow_after(candidate.node.id);
    const auto give_up_after = std::max(health.give_up_after(candidate.node.id), slow_after);
    candidate.timer = after(slow_after, distance, [this, give_up_after, slow_after](const DhtId& at) {
      on_slow(at, give_up_after - slow_after);
    });
    protocol_.call_find(candidate.node, {key_}, [self = shared_from_this(), distance](net::Result<FindResponse> response) {
      self->on_answer(distance, std::move(response));
    });
  }

  // Runs `action(distance)` after `delay` unless the lookup is gone by then.
  template <typename Action>
  Scheduler::TaskId after(std::chrono::microseconds delay, const DhtId& distance, Action action) {
    return protocol_.scheduler().after(delay, [weak = weak_from_this(), alive = alive_, distance, action] {
      auto self = weak.lock();
      if (self && *alive) action(distance);
    });
  }

  void on_slow(const DhtId& distance, std::chrono::microseconds give_up_in) {
    Candidate& candidate = candidates_.at(distance);
    if (finished_ || candidate.state != State::kInFlight) return;
    candidate.state = State::kSlow;
    --in_flight_;
    candidate.timer = after(give_up_in, distance, [this](const DhtId& at) { on_give_up(at); });
    step();
  }

  void on_give_up(const DhtId& distance) {
    Candidate& candidate = candidates_.at(distance);
    if (finished_ || candidate.state != State::kSlow) return;
    candidate.state = State::kGaveUp;
    step();
  }

  void on_answer(const DhtId& distance, net::Result<FindResponse> response) {
    Candidate& candidate = candidates_.at(distance);
    if (candidate.state == State::kInFlight) --in_flight_;
    protocol_.scheduler().cancel(candidate.timer);
    if (finished_) return;
    if (!response.is_ok() || response.value().records.size() != 1) {
      candidate.state = State::kFailed;
      step();
      return;
    }
    candidate.state = State::kAnswered;
    FoundRecord& found = response.value().records.front();
    for (const NodeInfo& node : found.nearest) consider(node, candidate.hop + 1);
    if (found.record) {
      const bool fresh_enough =
          options_.stop_at_expiration && found.record->expiration >= *options_.stop_at_expiration;
      if (fresh_enough && found.record->is_dictionary()) ++fresh_dictionaries_;
      const bool enough = fresh_enough && (!found.record->is_dictionary() ||
                                           fresh_dictionaries_ >= options_.dictionary_views);
      result_.found.push_back(FoundAt{candidate.node, std::move(*found.record)});
      if (enough) {
        result_.stopped_early = true;
        result_.rounds = candidate.hop;
        finish();
        return;
      }
    }
    step();
  }

  void finish() {
    finished_ = true;
    for (auto& [distance, candidate] : candidates_) {
      if (candidate.state == State::kInFlight || candidate.state == State::kSlow) {
        protocol_.scheduler().cancel(candidate.timer);
      }
      if (candidate.state != State::kAnswered) continue;
      if (result_.nearest.size() < options_.nearest) {
        result_.nearest.push_back(candidate.node);
        if (!result_.stopped_early) result_.rounds = std::max(result_.rounds, candidate.hop);
      }
      const bool had_record = std::any_of(result_.found.begin(), result_.found.end(),
                                          [&](const FoundAt& at) { return at.node.id == candidate.node.id; });
      if (!had_record) result_.without_record.push_back(candidate.node);
    }
    LookupCallback done = std::move(done_);
    done(std::move(result_));
  }

  DhtProtocol& protocol_;
  std::shared_ptr<const bool> alive_;
  DhtId key_;
  LookupOptions options_;
  LookupCallback done_;
  Candidates candidates_;
  size_t in_flight_ = 0;
  size_t fresh_dictionaries_ = 0;
  bool finished_ = false;
  LookupResult result_;
};

}  // namespace

void start_lookup(DhtProtocol& protocol, const DhtId& key, LookupOptions options, LookupCallback done) {
  std::make_shared<Lookup>(protocol, key, options, std::move(done))->start();
}

}  // namespace hive::dht
