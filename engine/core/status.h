// Status and Result<T>: how recoverable failures (a missing file, a corrupt checkpoint, a bad
// dataset) are returned instead of thrown. The message says what failed, where, and why.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "engine/core/error.h"

namespace hive {

class [[nodiscard]] Status {
 public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !message_.has_value(); }
  const std::string& message() const {
    static const std::string kNone;
    return message_ ? *message_ : kNone;
  }
  // For callers with nothing better to do than fail loudly (tools, tests).
  void throw_if_error() const {
    if (message_) throw Error(*message_);
  }

 private:
  Status() = default;
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)), status_(Status::ok()) {}  // NOLINT: implicit on purpose
  Result(Status error) : status_(std::move(error)) {                     // NOLINT
    HIVE_CHECK(!status_.is_ok(), "Result built from an ok Status without a value");
  }

  bool is_ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  const std::string& message() const { return status_.message(); }
  const T& value() const& {
    HIVE_CHECK(is_ok(), "value() of a failed Result: ", status_.message());
    return *value_;
  }
  T&& value() && {
    HIVE_CHECK(is_ok(), "value() of a failed Result: ", status_.message());
    return std::move(*value_);
  }
  T value_or_throw() && {
    status_.throw_if_error();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hive
