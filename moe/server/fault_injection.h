// Faults a server injects on purpose, to test that trainers carry on (`hive serve
// --fail-fraction/--stall-fraction`): a drawn fraction of forward and backward calls fails at
// once with kUnavailable, another fraction stalls (is never answered, so the caller's timeout
// decides). Draws come from a seeded generator: a given seed and call order fail the same calls.
//
// Threads: draw() and stall() run on the endpoint's I/O thread (the server's handlers);
// release_stalled() at shutdown, from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>

#include "net/rpc/call.h"

namespace hive::moe {

struct FaultInjectionOptions {
  double fail_fraction = 0.0;
  double stall_fraction = 0.0;
  uint64_t seed = 0;
};

enum class InjectedFault : uint8_t { kNone, kFail, kStall };

class FaultInjector {
 public:
  // Throws hive::Error unless both fractions are in [0, 1] and sum to at most 1.
  explicit FaultInjector(FaultInjectionOptions options);

  bool enabled() const { return options_.fail_fraction > 0.0 || options_.stall_fraction > 0.0; }
  InjectedFault draw();
  // Keeps the call unanswered. At most kMaxStalled are kept: beyond that the oldest is answered
  // (kUnavailable), so a long run's stalled calls cannot pile up.
  void stall(std::shared_ptr<net::Responder> responder);
  // Answers every stalled call (kUnavailable); the server calls it when shutting down.
  void release_stalled();

  static constexpr size_t kMaxStalled = 1024;

 private:
  FaultInjectionOptions options_;
  std::mt19937_64 generator_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::mutex mutex_;
  std::deque<std::shared_ptr<net::Responder>> stalled_;
};

}  // namespace hive::moe
