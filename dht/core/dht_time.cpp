#include "dht/core/dht_time.h"

#include <chrono>

namespace hive::dht {

DhtTime SystemClock::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace hive::dht
