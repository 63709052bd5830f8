#include "moe/server/fault_injection.h"

#include "engine/core/error.h"

namespace hive::moe {
namespace {

net::Status released() {
  return net::Status(net::StatusCode::kUnavailable, "expert server: a stalled call (injected fault)");
}

}  // namespace

FaultInjector::FaultInjector(FaultInjectionOptions options)
    : options_(options), generator_(options.seed) {
  HIVE_REQUIRE(options_.fail_fraction >= 0.0 && options_.fail_fraction <= 1.0 &&
                   options_.stall_fraction >= 0.0 && options_.stall_fraction <= 1.0 &&
                   options_.fail_fraction + options_.stall_fraction <= 1.0,
               "fault injection: fail fraction ", options_.fail_fraction, " and stall fraction ",
               options_.stall_fraction, ", expected each in [0, 1] and their sum at most 1");
}

InjectedFault FaultInjector::draw() {
  if (!enabled()) return InjectedFault::kNone;
  const double draw = uniform_(generator_);
  if (draw < options_.fail_fraction) return InjectedFault::kFail;
  if (draw < options_.fail_fraction + options_.stall_fraction) return InjectedFault::kStall;
  return InjectedFault::kNone;
}

void FaultInjector::stall(std::shared_ptr<net::Responder> responder) {
  std::shared_ptr<net::Responder> oldest;
  {
    std::lock_guard lock(mutex_);
    stalled_.push_back(std::move(responder));
    if (stalled_.size() <= kMaxStalled) return;
    oldest = std::move(stalled_.front());
    stalled_.pop_front();
  }
  oldest->try_respond(released());
}

void FaultInjector::release_stalled() {
  std::deque<std::shared_ptr<net::Responder>> stalled;
  {
    std::lock_guard lock(mutex_);
    stalled.swap(stalled_);
  }
  for (const auto& responder : stalled) responder->try_respond(released());
}

}  // namespace hive::moe
