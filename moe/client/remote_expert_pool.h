// The trainer's RemoteExpert handles, one per expert location, so that each expert's schema is
// fetched once however many batches and layers call it. A location whose server changed
// (another address or peer for the same uid) gets a handle of its own.
//
// Threads: get() is safe from any thread but the endpoint's I/O thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "moe/client/remote_expert.h"
#include "moe/protocol/expert_location.h"

namespace hive::moe {

class RemoteExpertPool {
 public:
  // options.expected_peer is ignored: each handle expects the peer its location names.
  RemoteExpertPool(net::Endpoint& endpoint, RemoteExpertOptions options = {});

  std::shared_ptr<RemoteExpert> get(const ExpertLocation& location);

  net::Endpoint& endpoint() { return endpoint_; }
  size_t size() const;

 private:
  net::Endpoint& endpoint_;
  RemoteExpertOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<RemoteExpert>, std::less<>> experts_;
};

}  // namespace hive::moe
