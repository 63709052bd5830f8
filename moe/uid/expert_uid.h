// Expert uids: where an expert sits on the DMoE grid, as "prefix.i.j..." (e.g. "ffn.3.17").
//
// The grammar is hivemind's (hivemind/moe/expert_uid.py, UID_PATTERN): a prefix of one or more
// characters other than '.', then one or more indices, each a non-negative decimal integer
// without a leading zero. The uid's text is what the DHT stores and what clients send, so
// every uid has exactly one spelling: parse(to_string()) gives the same uid back.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace hive::moe {

// Separates the prefix and the indices of a uid, and ends every prefix key ("ffn.3.").
inline constexpr char kUidDelimiter = '.';

class ExpertUid {
 public:
  // Errors name the uid, the index (counted from 1: "ffn.03.1" has index 1 "03") and what is
  // wrong with it, e.g. "expert uid 'ffn.03.1': index 1 '03' has a leading zero".
  static Result<ExpertUid> parse(std::string_view text);
  // The uid with these parts: prefix non-empty without '.', at least one index, all >= 0.
  static Result<ExpertUid> from_parts(std::string prefix, std::vector<int64_t> indices);

  const std::string& prefix() const { return prefix_; }             // "ffn"
  const std::vector<int64_t>& indices() const { return indices_; }  // {3, 17}
  size_t dimensions() const { return indices_.size(); }
  const std::string& to_string() const { return text_; }  // "ffn.3.17"

  // The key of the prefix made of the first `depth` indices, ending with the delimiter:
  // depth 0 -> "ffn.", depth 1 -> "ffn.3.". depth <= dimensions(); depth == dimensions() is
  // the whole uid and a delimiter ("ffn.5."), the key under which a 1-d expert is announced.
  std::string prefix_key(size_t depth) const;

  friend bool operator==(const ExpertUid& a, const ExpertUid& b) { return a.text_ == b.text_; }
  // Orders by prefix, then by indices numerically ("ffn.2" < "ffn.10").
  friend std::strong_ordering operator<=>(const ExpertUid& a, const ExpertUid& b);

 private:
  ExpertUid(std::string prefix, std::vector<int64_t> indices);

  std::string prefix_;
  std::vector<int64_t> indices_;
  std::string text_;
};

std::ostream& operator<<(std::ostream& out, const ExpertUid& uid);

}  // namespace hive::moe
