// Uid patterns: the set of grid uids a server may pick its experts from, written as the uid
// grammar with ranges in place of indices: "ffn.[0:16].[0:16]" (256 uids), "ffn.3.[0:8]" (8),
// "ffn.3.17" (just that uid). A range [begin:end] is half-open, as in hivemind's
// generate_uids_from_pattern (hivemind/moe/expert_uid.py); its bounds follow the index grammar
// (non-negative, no leading zero) and begin < end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/random.h"
#include "engine/core/status.h"
#include "moe/uid/expert_uid.h"

namespace hive::moe {

struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive; a fixed index i is [i, i + 1)

  int64_t size() const { return end - begin; }
  bool operator==(const IndexRange&) const = default;
};

class UidPattern {
 public:
  // Errors name the pattern, the block (counted from 1 after the prefix) and what is wrong, e.g.
  // "expert pattern 'ffn.[4:2]': block 1 '[4:2]' is an empty range (expected begin < end)".
  static Result<UidPattern> parse(std::string_view text);

  const std::string& prefix() const { return prefix_; }
  const std::vector<IndexRange>& ranges() const { return ranges_; }  // one per grid dimension
  // How many uids the pattern holds (parse refuses patterns whose count overflows).
  uint64_t size() const { return size_; }
  std::string to_string() const;  // parse(to_string()) gives the same pattern

  // Uid number `ordinal` in row-major order (the last dimension varies fastest); ordinal < size().
  ExpertUid uid_at(uint64_t ordinal) const;
  // Every uid, in row-major order: size() of them, so only for patterns of reasonable size.
  std::vector<ExpertUid> enumerate() const;
  // One uid drawn uniformly; advances `generator`.
  ExpertUid sample(Generator& generator) const;
  // `count` distinct uids drawn uniformly (every subset of that size is equally likely), in
  // row-major order; one bounded draw from `generator` per uid, with no retries however close
  // count is to size(). Fails when count > size().
  Result<std::vector<ExpertUid>> sample_distinct(uint64_t count, Generator& generator) const;

 private:
  UidPattern(std::string prefix, std::vector<IndexRange> ranges, uint64_t size);

  std::string prefix_;
  std::vector<IndexRange> ranges_;
  uint64_t size_;
};

}  // namespace hive::moe
