#include "moe/server/expert_announcer.h"

#include <deque>
#include <exception>
#include <future>
#include <string>
#include <utility>

#include "engine/core/error.h"
#include "moe/uid/prefix_records.h"
#include "moe/uid/prefix_subkey.h"
#include "net/core/log.h"

namespace hive::moe {
namespace {

// Records whose stores are in flight at once. Each store starts a lookup; thousands of them at
// once (a server with many experts) queue their answers behind each other until the lookups give
// up on peers that are merely slow, and the records reach fewer replicas than they should.
constexpr size_t kRecordsInFlight = 64;

struct PendingStore {
  std::string record;  // for errors: "ffn.3.17" or "ffn.3. subkey 17"
  std::future<dht::StoreResult> result;
};

// Whether some node took the record or holds it already with a later expiration: servers
// hosting experts under one prefix all write its subkey ("ffn.3." -> 17 for both ffn.3.17.0 and
// ffn.3.17.5), and the latest write is as good as ours. A stopped DHT loop counts as no node.
bool stored(std::future<dht::StoreResult>& result) {
  try {
    const dht::StoreResult outcome = result.get();
    return outcome.stored > 0 || outcome.not_newer > 0;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

net::Status declare_experts(dht::DhtRunner& dht, std::span<const ExpertUid> uids,
                            const net::SocketAddress& address, const net::PeerId& peer,
                            dht::DhtTime expiration) {
  std::deque<PendingStore> in_flight;  // oldest first
  size_t records = 0;
  size_t failed = 0;
  std::string first_failed;
  const auto settle_oldest = [&] {
    if (!stored(in_flight.front().result) && failed++ == 0) first_failed = in_flight.front().record;
    in_flight.pop_front();
  };
  const auto store = [&](std::string record, const auto& start) {
    if (in_flight.size() == kRecordsInFlight) settle_oldest();
    in_flight.push_back({std::move(record), start()});
    ++records;
  };
  for (const ExpertUid& uid : uids) {
    const dht::Bytes value = encode_expert_location(ExpertLocation{uid, address, peer});
    store(uid.to_string(), [&] { return dht.store(uid.to_string(), value, expiration); });
    for (const PrefixRecord& record : prefix_records(uid)) {
      store(str_cat(record.prefix, " subkey ", record.subkey), [&] {
        return dht.store(record.prefix, value, expiration, encode_prefix_subkey(record.subkey));
      });
    }
  }
  while (!in_flight.empty()) settle_oldest();
  if (failed == 0) return net::Status::ok();
  return net::Status(net::StatusCode::kUnavailable,
                     str_cat("declaring ", uids.size(), " experts at ", address.to_string(),
                             ": no DHT node took record '", first_failed, "' (", failed, " of ",
                             records, " records failed)"));
}

std::vector<std::optional<ExpertLocation>> find_experts(dht::DhtRunner& dht,
                                                        std::span<const ExpertUid> uids) {
  std::vector<std::future<dht::GetResult>> gets;
  gets.reserve(uids.size());
  for (const ExpertUid& uid : uids) gets.push_back(dht.get(uid.to_string()));
  std::vector<std::optional<ExpertLocation>> found(uids.size());
  for (size_t i = 0; i < uids.size(); ++i) {
    const dht::GetResult result = gets[i].get();
    if (!result.record || result.record->is_dictionary()) continue;
    Result<ExpertLocation> location = decode_expert_location(result.record->plain());
    if (location.is_ok() && location.value().uid == uids[i]) found[i] = std::move(location).value();
  }
  return found;
}

ExpertAnnouncer::ExpertAnnouncer(dht::DhtRunner& dht, std::vector<ExpertUid> uids,
                                 net::SocketAddress address, net::PeerId peer,
                                 ExpertAnnouncerOptions options)
    : dht_(dht),
      uids_(std::move(uids)),
      address_(address),
      peer_(peer),
      options_(options) {
  HIVE_REQUIRE(options_.period.count() > 0, "expert announcer: period of ",
               options_.period.count(), " ms, expected a positive period");
  thread_ = std::thread([this] { run(); });
}

ExpertAnnouncer::~ExpertAnnouncer() { stop(); }

net::Status ExpertAnnouncer::wait_first_announcement() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return first_result_.has_value(); });
  return *first_result_;
}

void ExpertAnnouncer::stop() {
  std::call_once(stop_once_, [this] {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  });
}

void ExpertAnnouncer::run() {
  std::unique_lock lock(mutex_);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    lock.unlock();
    const dht::DhtTime expiration = dht_.clock().now() + 2 * options_.period.count();
    net::Status status = declare_experts(dht_, uids_, address_, peer_, expiration);
    ++announcements_;
    if (!status.is_ok()) net::log(net::LogLevel::kWarning, "expert announcer: ", status.message());
    lock.lock();
    if (!first_result_) {
      first_result_ = std::move(status);
      changed_.notify_all();
    }
    // Each announcement starts one period after the previous one started, however long it took.
    next += options_.period;
    changed_.wait_until(lock, next, [&] { return stopping_; });
  }
  if (!first_result_) {
    first_result_ = net::Status(net::StatusCode::kCancelled,
                                "expert announcer stopped before its first announcement");
    changed_.notify_all();
  }
}

}  // namespace hive::moe
