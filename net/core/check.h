// Invariant checks for net. A broken invariant is a bug in hive: print file, line and message and
// abort, in release builds too. Bad input from peers never reaches these; it becomes a Status.
// (net depends on no other hive folder, so it carries its own copy of this small macro.)
#pragma once

#include <sstream>
#include <string>

namespace hive::net {

template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

namespace detail {
[[noreturn]] void net_check_failed(const char* condition, const char* file, int line,
                                   const std::string& message);
}  // namespace detail

}  // namespace hive::net

#define HIVE_NET_CHECK(condition, ...)                                                   \
  do {                                                                                   \
    if (!(condition)) [[unlikely]] {                                                     \
      ::hive::net::detail::net_check_failed(#condition, __FILE__, __LINE__,              \
                                            ::hive::net::str_cat("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                                    \
  } while (false)
