// SIGINT and SIGTERM as values to wait for rather than handlers to install: the constructor
// blocks both in the calling thread, so construct it on the main thread before any other thread
// exists (threads inherit the mask, and a signal then stays pending until wait*() takes it). No
// signal handler, no flag polling.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>

namespace hive::tools {

class TerminationSignals {
 public:
  TerminationSignals();
  ~TerminationSignals();  // restores the signal mask it replaced
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

  // The signal that arrived (SIGINT or SIGTERM), or nothing at `deadline`.
  std::optional<int> wait_until(std::chrono::steady_clock::time_point deadline) const;
  int wait() const;

 private:
  sigset_t signals_;
  sigset_t previous_mask_;
};

const char* signal_name(int signal);  // "SIGINT", "SIGTERM"

}  // namespace hive::tools
