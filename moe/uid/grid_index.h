// Parsing one grid index of an expert uid or pattern: a non-negative decimal integer without a
// leading zero ("0", "17"; not "03", "-1", "+1", ""), so that every index has exactly one
// spelling and two servers can never announce the same expert under two uids.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/core/status.h"

namespace hive::moe {

// The index `text` spells, or an error that says what is wrong with it ("has a leading zero",
// "is empty", ...) without naming the uid: callers add where it sits.
Result<int64_t> parse_grid_index(std::string_view text);

}  // namespace hive::moe
