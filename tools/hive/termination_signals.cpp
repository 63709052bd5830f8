#include "tools/hive/termination_signals.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>

namespace hive::tools {

TerminationSignals::TerminationSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_);
}

TerminationSignals::~TerminationSignals() { pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr); }

std::optional<int> TerminationSignals::wait_until(std::chrono::steady_clock::time_point deadline) const {
  using Clock = std::chrono::steady_clock;
  while (true) {
    const auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
    const timespec timeout{static_cast<time_t>(seconds.count()),
                           static_cast<long>(std::chrono::nanoseconds(left - seconds).count())};
    const int signal = sigtimedwait(&signals_, nullptr, &timeout);
    if (signal > 0) return signal;
    if (errno == EAGAIN) return std::nullopt;
    // EINTR: another signal interrupted the wait; wait again.
  }
}

int TerminationSignals::wait() const {
  int signal = 0;
  sigwait(&signals_, &signal);  // fails only for an invalid set
  return signal;
}

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : "SIGTERM"; }

}  // namespace hive::tools
