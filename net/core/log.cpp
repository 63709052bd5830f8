#include "net/core/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hive::net {
namespace {

LogLevel level_from_environment() {
  const char* value = std::getenv("HIVE_LOG");
  if (value == nullptr) return LogLevel::kWarning;
  if (std::strcmp(value, "error") == 0) return LogLevel::kError;
  if (std::strcmp(value, "info") == 0) return LogLevel::kInfo;
  if (std::strcmp(value, "debug") == 0) return LogLevel::kDebug;
  return LogLevel::kWarning;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

}  // namespace

bool log_enabled(LogLevel level) {
  static const LogLevel threshold = level_from_environment();
  return level <= threshold;
}

void log_line(LogLevel level, std::string_view line) {
  // One fprintf per line: lines from different threads do not interleave.
  std::fprintf(stderr, "hive net %s: %.*s\n", level_name(level), static_cast<int>(line.size()),
               line.data());
}

}  // namespace hive::net
