// Errors and invariant checks for the whole engine.
//
// Two kinds of failure, handled differently:
// - Bad input from a caller (wrong shapes, dtypes, devices, out-of-range indices, a corrupt file):
//   HIVE_REQUIRE throws hive::Error, whose message names the operation, the offending value and
//   what was expected. The caller can catch it and keep going.
// - A broken internal invariant (a bug in hive): HIVE_CHECK prints file, line and message and
//   aborts. It stays on in release builds.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace hive {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything with an operator<< into a string: str_cat("x has ", n, " rows").
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

namespace detail {
[[noreturn]] void check_failed(const char* condition, const char* file, int line,
                               const std::string& message);
}  // namespace detail

}  // namespace hive

#define HIVE_REQUIRE(condition, ...)                        \
  do {                                                      \
    if (!(condition)) [[unlikely]] {                        \
      throw ::hive::Error(::hive::str_cat(__VA_ARGS__));    \
    }                                                       \
  } while (false)

#define HIVE_CHECK(condition, ...)                                                            \
  do {                                                                                        \
    if (!(condition)) [[unlikely]] {                                                          \
      ::hive::detail::check_failed(#condition, __FILE__, __LINE__,                            \
                                   ::hive::str_cat("" __VA_OPT__(, ) __VA_ARGS__));           \
    }                                                                                         \
  } while (false)
