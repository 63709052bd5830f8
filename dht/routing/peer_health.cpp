#include "dht/routing/peer_health.h"

#include <algorithm>
#include <cmath>

namespace hive::dht {

void PeerHealth::Estimate::add(double rtt_us) {
  if (!sampled) {
    srtt_us = rtt_us;
    rttvar_us = rtt_us / 2;
    sampled = true;
    return;
  }
  rttvar_us += (std::abs(rtt_us - srtt_us) - rttvar_us) / 4;
  srtt_us += (rtt_us - srtt_us) / 8;
}

PeerHealth::Peer& PeerHealth::track(const DhtId& peer) {
  if (peers_.size() >= options_.max_tracked_peers && !peers_.contains(peer)) {
    // Forget the healthy peers first: a fresh estimate is cheap to rebuild, a back-off is not.
    std::erase_if(peers_, [](const auto& entry) { return entry.second.failures == 0; });
    if (peers_.size() >= options_.max_tracked_peers) peers_.clear();
  }
  return peers_[peer];
}

void PeerHealth::answered(const DhtId& peer, std::chrono::microseconds round_trip) {
  const double rtt_us = static_cast<double>(std::max<int64_t>(round_trip.count(), 1));
  Peer& tracked = track(peer);
  tracked.estimate.add(rtt_us);
  tracked.failures = 0;
  tracked.backoff_until = std::chrono::microseconds(0);
  overall_.add(rtt_us);
}

void PeerHealth::failed(const DhtId& peer, std::chrono::microseconds now) {
  Peer& tracked = track(peer);
  const uint32_t doublings = std::min<uint32_t>(tracked.failures, 30);
  ++tracked.failures;
  const auto backoff = std::min(options_.first_backoff * (int64_t{1} << doublings), options_.max_backoff);
  tracked.backoff_until = now + backoff;
}

std::chrono::microseconds PeerHealth::clamp(double slow_after_us) const {
  const auto slow_after = std::chrono::microseconds(static_cast<int64_t>(std::ceil(slow_after_us)));
  return std::clamp(slow_after, options_.min_slow_after, options_.max_slow_after);
}

std::chrono::microseconds PeerHealth::slow_after(const DhtId& peer) const {
  auto found = peers_.find(peer);
  if (found != peers_.end() && found->second.estimate.sampled) {
    return clamp(found->second.estimate.slow_after_us());
  }
  // A peer not heard from yet: as slow as peers are overall, with room for being farther away.
  if (overall_.sampled) return clamp(2 * overall_.slow_after_us());
  return clamp(static_cast<double>(options_.initial_slow_after.count()));
}

std::chrono::microseconds PeerHealth::give_up_after(const DhtId& peer) const {
  return std::clamp(slow_after(peer) * options_.give_up_factor, options_.min_give_up_after,
                    options_.max_give_up_after);
}

bool PeerHealth::backing_off(const DhtId& peer, std::chrono::microseconds now) const {
  auto found = peers_.find(peer);
  return found != peers_.end() && found->second.backoff_until > now;
}

std::optional<std::chrono::microseconds> PeerHealth::typical_round_trip() const {
  if (!overall_.sampled) return std::nullopt;
  return std::chrono::microseconds(static_cast<int64_t>(overall_.srtt_us));
}

}  // namespace hive::dht
