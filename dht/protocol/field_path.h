// Where a field sits in a DHT message ("find response: record 3 nearest node 7 id"), for error
// messages. The decoder passes a path down by reference for every field it checks, but formats
// it only when it reports an error (built eagerly, these names were most of a find RPC's
// decoding time).
//
// A path is a chain of parts on the caller's stack; a child must not outlive its parent.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hive::dht {

class FieldPath {
 public:
  explicit FieldPath(std::string_view name) : name_(name) {}
  FieldPath(std::string_view name, size_t index) : name_(name), index_(index) {}

  // `name` is appended as it is: " id" gives "ping request: sender id".
  FieldPath child(std::string_view name) const { return FieldPath(this, name, kNoIndex); }
  // " subkey", 2 gives "find response: record 0 subkey 2".
  FieldPath item(std::string_view name, size_t index) const {
    return FieldPath(this, name, index);
  }

  std::string to_string() const;

 private:
  static constexpr size_t kNoIndex = static_cast<size_t>(-1);

  FieldPath(const FieldPath* parent, std::string_view name, size_t index)
      : parent_(parent), name_(name), index_(index) {}
  void append_to(std::string& out) const;

  const FieldPath* parent_ = nullptr;
  std::string_view name_;
  size_t index_ = kNoIndex;
};

}  // namespace hive::dht
