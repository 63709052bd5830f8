#include "moe/uid/grid_index.h"

#include <charconv>
#include <limits>

namespace hive::moe {

Result<int64_t> parse_grid_index(std::string_view text) {
  if (text.empty()) return Status::error("is empty");
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return Status::error(str_cat("'", text, "' is not a non-negative decimal integer"));
    }
  }
  if (text.size() > 1 && text.front() == '0') {
    return Status::error(str_cat("'", text, "' has a leading zero"));
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Status::error(
        str_cat("'", text, "' is too large (at most ", std::numeric_limits<int64_t>::max(), ")"));
  }
  return value;
}

}  // namespace hive::moe
