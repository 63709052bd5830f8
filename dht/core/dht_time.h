// Time in the DHT: absolute expiration times travel between nodes, so they are wall-clock
// milliseconds since the Unix epoch (nodes' clocks must agree within a few seconds). The clock
// is a parameter, so tests and the simulation drive the same code with a manual clock.
#pragma once

#include <cstdint>

namespace hive::dht {

using DhtTime = int64_t;  // milliseconds since the Unix epoch

class Clock {
 public:
  virtual ~Clock() = default;
  virtual DhtTime now() const = 0;
};

// The real clock (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  DhtTime now() const override;
};

// A clock that moves only when told to (tests, simulation).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(DhtTime start) : now_(start) {}
  DhtTime now() const override { return now_; }
  void advance(DhtTime milliseconds) { now_ += milliseconds; }
  void set(DhtTime time) { now_ = time; }

 private:
  DhtTime now_;
};

}  // namespace hive::dht
