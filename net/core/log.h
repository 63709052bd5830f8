// Minimal logging for net: one line per event on stderr, filtered by HIVE_LOG (error, warning,
// info, debug; default warning). Peers' bad input is logged at warning with its reason.
#pragma once

#include <string_view>

#include "net/core/check.h"

namespace hive::net {

enum class LogLevel : int { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view line);

template <typename... Args>
void log(LogLevel level, const Args&... args) {
  if (log_enabled(level)) log_line(level, str_cat(args...));
}

}  // namespace hive::net
