#include "moe/client/remote_expert_pool.h"

namespace hive::moe {
namespace {

// Every field of the location, so a restarted server (new address or identity) is a new handle.
std::string location_key(const ExpertLocation& location) {
  std::string key = location.uid.to_string();
  key += '@';
  key += location.address.to_string();
  key += '#';
  for (std::byte byte : location.peer.bytes()) key += static_cast<char>(byte);
  return key;
}

}  // namespace

RemoteExpertPool::RemoteExpertPool(net::Endpoint& endpoint, RemoteExpertOptions options)
    : endpoint_(endpoint), options_(std::move(options)) {}

std::shared_ptr<RemoteExpert> RemoteExpertPool::get(const ExpertLocation& location) {
  std::string key = location_key(location);
  std::lock_guard lock(mutex_);
  auto found = experts_.find(key);
  if (found != experts_.end()) return found->second;
  RemoteExpertOptions options = options_;
  options.expected_peer = location.peer;
  auto expert =
      std::make_shared<RemoteExpert>(endpoint_, location.address, location.uid, options);
  experts_.emplace(std::move(key), expert);
  return expert;
}

size_t RemoteExpertPool::size() const {
  std::lock_guard lock(mutex_);
  return experts_.size();
}

}  // namespace hive::moe
