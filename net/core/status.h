// Status and Result<T> for net: every recoverable failure (a peer that vanished, a deadline, a
// malformed frame, an overloaded queue) is a value with a code that callers branch on and a
// message that says what failed, where, and which value. Codes travel over the wire unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "net/core/check.h"

namespace hive::net {

enum class StatusCode : int32_t {
  kOk = 0,
  kCancelled = 1,          // the caller cancelled the call
  kInvalidArgument = 2,    // the request itself is wrong (bad shape, unknown dtype, ...)
  kDeadlineExceeded = 3,   // no answer within the call's deadline
  kNotFound = 4,           // no handler for the method
  kUnavailable = 5,        // could not connect, connection lost, endpoint shutting down
  kOverloaded = 6,         // a bounded queue is full; retry later or elsewhere
  kProtocolError = 7,      // the peer sent bytes that are not a valid frame
  kUnauthenticated = 8,    // the peer failed the identity handshake or is not the expected one
  kTooLarge = 9,           // a message above the configured limit
  kReplyTooLarge = 10,     // a datagram reply does not fit: repeat the call over TCP
  kInternal = 11,          // a handler failed unexpectedly
};

std::string_view status_code_name(StatusCode code);
// Codes from the wire may be anything; unknown ones become kInternal.
StatusCode status_code_from_wire(int32_t value);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "deadline_exceeded: call 'echo' to 127.0.0.1:4000 got no answer within 100 ms"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status error) : status_(std::move(error)) {  // NOLINT
    HIVE_NET_CHECK(!status_.is_ok(), "Result built from an ok Status without a value");
  }

  bool is_ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  const T& value() const& {
    HIVE_NET_CHECK(is_ok(), "value() of a failed Result: ", status_.to_string());
    return *value_;
  }
  T& value() & {
    HIVE_NET_CHECK(is_ok(), "value() of a failed Result: ", status_.to_string());
    return *value_;
  }
  T&& value() && {
    HIVE_NET_CHECK(is_ok(), "value() of a failed Result: ", status_.to_string());
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hive::net
