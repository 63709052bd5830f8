#include "tools/hive/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace hive::tools {

ProgressBar::ProgressBar(std::string label, int64_t total, int log_every_percent)
    : label_(std::move(label)), total_(total), log_every_percent_(log_every_percent),
      interactive_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::render(int64_t done, const std::string& status) const {
  constexpr int kWidth = 24;
  const double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  char head[160];
  std::snprintf(head, sizeof(head), "%s [%s] %3d%% %lld/%lld %.1fs ", label_.c_str(), bar.c_str(),
                static_cast<int>(fraction * 100.0), static_cast<long long>(done),
                static_cast<long long>(total_), elapsed_seconds());
  return head + status;
}

void ProgressBar::update(int64_t done, const std::string& status) {
  if (interactive_) {
    // Redrawing more often than ~10 times a second only costs time.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r%s\033[K", render(done, status).c_str());
    return;
  }
  const int percent = total_ > 0 ? static_cast<int>(100 * done / total_) : 100;
  if (percent / log_every_percent_ > last_logged_percent_ / log_every_percent_ || last_logged_percent_ < 0) {
    last_logged_percent_ = percent;
    std::fprintf(stderr, "%s\n", render(done, status).c_str());
  }
}

void ProgressBar::finish(const std::string& status) {
  std::fprintf(stderr, interactive_ ? "\r%s\033[K\n" : "%s\n", render(total_, status).c_str());
}

}  // namespace hive::tools
