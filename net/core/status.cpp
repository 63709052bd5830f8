#include "net/core/status.h"

#include <cstdio>
#include <cstdlib>

namespace hive::net {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kDeadlineExceeded: return "deadline_exceeded";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kOverloaded: return "overloaded";
    case StatusCode::kProtocolError: return "protocol_error";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kTooLarge: return "too_large";
    case StatusCode::kReplyTooLarge: return "reply_too_large";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

StatusCode status_code_from_wire(int32_t value) {
  if (value < 0 || value > static_cast<int32_t>(StatusCode::kInternal)) return StatusCode::kInternal;
  return static_cast<StatusCode>(value);
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return str_cat(status_code_name(code_), ": ", message_);
}

namespace detail {
void net_check_failed(const char* condition, const char* file, int line,
                      const std::string& message) {
  std::fprintf(stderr, "%s:%d: check failed: %s %s\n", file, line, condition, message.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace detail

}  // namespace hive::net
