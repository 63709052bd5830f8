// What a node has learned about how its peers answer: a round-trip estimate per peer (and over
// all peers, for peers not heard from yet), and a back-off for peers that failed a call. Lookups
// use the first to decide when a request is slow enough to send another one in parallel, and
// when to stop waiting for it (adaptive timeouts, not a fixed stall after churn), and the second
// to skip peers that recently failed: each failure doubles the back-off, an answer clears it.
//
// Round trips follow TCP's estimator (RFC 6298): srtt += (rtt - srtt) / 8,
// rttvar += (|rtt - srtt| - rttvar) / 4; a request is slow after srtt + 4 rttvar.
// Single-threaded; times come from the caller (Scheduler::now()).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "dht/core/dht_id.h"

namespace hive::dht {

struct PeerHealthOptions {
  // Bounds of the slow-request threshold: below the floor, scheduling noise would trigger
  // needless extra requests; above the ceiling, a dead peer would stall a lookup.
  std::chrono::microseconds min_slow_after{2000};
  std::chrono::microseconds max_slow_after{1000000};
  // Threshold for a peer never heard from, when no peer has answered yet either.
  std::chrono::microseconds initial_slow_after{250000};
  // A lookup stops waiting for a request this many times its slow threshold after sending it,
  // within these bounds (the floor absorbs scheduling hiccups of a loaded host).
  int give_up_factor = 4;
  std::chrono::microseconds min_give_up_after{200000};
  std::chrono::microseconds max_give_up_after{2000000};
  // Longer than an RPC timeout: peers that still name a dead node must not make us ask it again
  // every few seconds.
  std::chrono::microseconds first_backoff{10000000};
  std::chrono::microseconds max_backoff{600000000};
  size_t max_tracked_peers = 65536;
};

class PeerHealth {
 public:
  explicit PeerHealth(PeerHealthOptions options = {}) : options_(options) {}

  void answered(const DhtId& peer, std::chrono::microseconds round_trip);
  void failed(const DhtId& peer, std::chrono::microseconds now);

  // How long to wait for `peer` before treating a request as slow.
  std::chrono::microseconds slow_after(const DhtId& peer) const;
  // How long after sending a lookup stops waiting for `peer` (it may still answer later).
  std::chrono::microseconds give_up_after(const DhtId& peer) const;
  bool backing_off(const DhtId& peer, std::chrono::microseconds now) const;
  // The round-trip estimate over all peers (nothing before the first answer).
  std::optional<std::chrono::microseconds> typical_round_trip() const;
  size_t tracked_peers() const { return peers_.size(); }

 private:
  struct Estimate {
    double srtt_us = 0;
    double rttvar_us = 0;
    bool sampled = false;

    void add(double rtt_us);
    double slow_after_us() const { return srtt_us + 4 * rttvar_us; }
  };
  struct Peer {
    Estimate estimate;
    uint32_t failures = 0;
    std::chrono::microseconds backoff_until{0};
  };

  Peer& track(const DhtId& peer);
  std::chrono::microseconds clamp(double slow_after_us) const;

  PeerHealthOptions options_;
  std::unordered_map<DhtId, Peer, DhtIdHash> peers_;
  Estimate overall_;
};

}  // namespace hive::dht
