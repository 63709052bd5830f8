// Announcing a server's experts in the DHT (hivemind's declare_experts and DHTHandlerThread).
//
// For each expert, the server stores its uid record and every prefix record
// (moe/uid/prefix_records.h), each valued with the expert's location, expiring at `expiration`.
// ExpertAnnouncer repeats that every period with an expiration of twice the period, so the
// experts of a server that dies vanish from the DHT (and from beam search) within two periods.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "dht/node/dht_runner.h"
#include "moe/protocol/expert_location.h"

namespace hive::moe {

// Stores every record of every uid (a bounded number in flight at once) and waits for them. A
// record counts as taken when some node stored it or holds it already with a later expiration.
// An error names the first record no node took (and how many failed); stored ones stay stored.
net::Status declare_experts(dht::DhtRunner& dht, std::span<const ExpertUid> uids,
                            const net::SocketAddress& address, const net::PeerId& peer,
                            dht::DhtTime expiration);

// The location each uid's record names now, or nullopt where there is none (or it is not a
// valid location for that uid). Gets all uids at once and waits for them.
std::vector<std::optional<ExpertLocation>> find_experts(dht::DhtRunner& dht,
                                                        std::span<const ExpertUid> uids);

struct ExpertAnnouncerOptions {
  std::chrono::milliseconds period{30000};  // records expire two periods after each announcement
};

class ExpertAnnouncer {
 public:
  // Starts a thread that announces the experts at once and then every period.
  ExpertAnnouncer(dht::DhtRunner& dht, std::vector<ExpertUid> uids, net::SocketAddress address,
                  net::PeerId peer, ExpertAnnouncerOptions options = {});
  ~ExpertAnnouncer();  // stop()
  ExpertAnnouncer(const ExpertAnnouncer&) = delete;
  ExpertAnnouncer& operator=(const ExpertAnnouncer&) = delete;

  // Blocks until the first announcement has finished; its result.
  net::Status wait_first_announcement();
  // Stops announcing (the records expire on their own); idempotent.
  void stop();
  uint64_t announcements() const { return announcements_.load(); }

 private:
  void run();

  dht::DhtRunner& dht_;
  const std::vector<ExpertUid> uids_;
  const net::SocketAddress address_;
  const net::PeerId peer_;
  const ExpertAnnouncerOptions options_;
  std::atomic<uint64_t> announcements_{0};
  std::mutex mutex_;
  std::condition_variable changed_;  // stopping_ or first_result_ changed
  bool stopping_ = false;
  std::optional<net::Status> first_result_;
  std::once_flag stop_once_;
  std::thread thread_;  // last: starts once every member above exists
};

}  // namespace hive::moe
