// A one-line progress display for long loops. On a terminal it redraws one line in place; when
// stderr is a file or pipe (CI logs) it prints a full line only every `log_every` percent.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hive::tools {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, int log_every_percent = 10);
  // Shows `done` of `total` with a free-form status ("loss 0.41 acc 0.86 ...").
  void update(int64_t done, const std::string& status);
  // Ends the line with a final status.
  void finish(const std::string& status);
  double elapsed_seconds() const;

 private:
  std::string render(int64_t done, const std::string& status) const;

  std::string label_;
  int64_t total_;
  int log_every_percent_;
  int last_logged_percent_ = -1;
  bool interactive_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace hive::tools
