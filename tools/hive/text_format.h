// printf-style formatting into a std::string, for status lines.
#pragma once

#include <cstdio>
#include <string>

namespace hive::tools {

template <typename... Args>
std::string format(const char* pattern, Args... args) {
  const int length = std::snprintf(nullptr, 0, pattern, args...);
  std::string text(static_cast<size_t>(length > 0 ? length : 0), '\0');
  std::snprintf(text.data(), text.size() + 1, pattern, args...);
  return text;
}

}  // namespace hive::tools
