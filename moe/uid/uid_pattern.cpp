#include "moe/uid/uid_pattern.h"

#include <algorithm>
#include <set>

#include "moe/uid/grid_index.h"

namespace hive::moe {
namespace {

// One block after the prefix: "[begin:end]" or a fixed index. The error says what is wrong
// with the block; the caller adds which block of which pattern.
Result<IndexRange> parse_block(std::string_view block) {
  const bool opens = block.starts_with('[');
  const bool closes = block.ends_with(']');
  if (!opens && !closes) {
    Result<int64_t> index = parse_grid_index(block);
    if (!index.is_ok()) return index.status();
    if (index.value() == INT64_MAX) return Status::error(str_cat("'", block, "' is too large"));
    return IndexRange{index.value(), index.value() + 1};
  }
  const size_t colon = block.find(':');
  if (!opens || !closes || block.size() < 2 || colon == std::string_view::npos) {
    return Status::error(str_cat("'", block, "' is neither an index nor a range [begin:end]"));
  }
  const std::string_view inner = block.substr(1, block.size() - 2);
  const size_t split = colon - 1;
  Result<int64_t> begin = parse_grid_index(inner.substr(0, split));
  if (!begin.is_ok()) {
    return Status::error(str_cat("'", block, "': the range's begin ", begin.message()));
  }
  Result<int64_t> end = parse_grid_index(inner.substr(split + 1));
  if (!end.is_ok()) {
    return Status::error(str_cat("'", block, "': the range's end ", end.message()));
  }
  if (begin.value() >= end.value()) {
    return Status::error(str_cat("'", block, "' is an empty range (expected begin < end)"));
  }
  return IndexRange{begin.value(), end.value()};
}

}  // namespace

UidPattern::UidPattern(std::string prefix, std::vector<IndexRange> ranges, uint64_t size)
    : prefix_(std::move(prefix)), ranges_(std::move(ranges)), size_(size) {}

Result<UidPattern> UidPattern::parse(std::string_view text) {
  const size_t first_delimiter = text.find(kUidDelimiter);
  if (first_delimiter == std::string_view::npos) {
    return Status::error(str_cat("expert pattern '", text,
                                 "' has no block after its prefix (expected e.g. "
                                 "'ffn.[0:16].[0:16]')"));
  }
  const std::string_view prefix = text.substr(0, first_delimiter);
  if (prefix.empty()) {
    return Status::error(str_cat("expert pattern '", text, "': the prefix before the first '",
                                 kUidDelimiter, "' is empty"));
  }
  if (prefix.find_first_of("[]") != std::string_view::npos) {
    return Status::error(str_cat("expert pattern '", text, "': the prefix '", prefix,
                                 "' is not literal text (a range may only follow the prefix)"));
  }
  std::vector<IndexRange> ranges;
  uint64_t size = 1;
  size_t begin = first_delimiter + 1;
  while (true) {
    const size_t end = std::min(text.find(kUidDelimiter, begin), text.size());
    const std::string_view block = text.substr(begin, end - begin);
    Result<IndexRange> range = parse_block(block);
    if (!range.is_ok()) {
      return Status::error(
          str_cat("expert pattern '", text, "': block ", ranges.size() + 1, " ", range.message()));
    }
    if (__builtin_mul_overflow(size, static_cast<uint64_t>(range.value().size()), &size)) {
      return Status::error(
          str_cat("expert pattern '", text, "' holds more than ", UINT64_MAX, " uids"));
    }
    ranges.push_back(range.value());
    if (end == text.size()) break;
    begin = end + 1;
  }
  return UidPattern(std::string(prefix), std::move(ranges), size);
}

std::string UidPattern::to_string() const {
  std::string text = prefix_;
  for (const IndexRange& range : ranges_) {
    text += kUidDelimiter;
    text += range.size() == 1 ? std::to_string(range.begin)
                              : str_cat("[", range.begin, ":", range.end, "]");
  }
  return text;
}

ExpertUid UidPattern::uid_at(uint64_t ordinal) const {
  HIVE_CHECK(ordinal < size_, "uid_at(", ordinal, ") of pattern '", to_string(), "' with ", size_,
             " uids");
  std::vector<int64_t> indices(ranges_.size());
  for (size_t d = ranges_.size(); d-- > 0;) {
    const auto extent = static_cast<uint64_t>(ranges_[d].size());
    indices[d] = ranges_[d].begin + static_cast<int64_t>(ordinal % extent);
    ordinal /= extent;
  }
  return ExpertUid::from_parts(prefix_, std::move(indices)).value();
}

std::vector<ExpertUid> UidPattern::enumerate() const {
  std::vector<ExpertUid> uids;
  uids.reserve(size_);
  for (uint64_t ordinal = 0; ordinal < size_; ++ordinal) uids.push_back(uid_at(ordinal));
  return uids;
}

ExpertUid UidPattern::sample(Generator& generator) const {
  return uid_at(generator.next_below(size_));
}

Result<std::vector<ExpertUid>> UidPattern::sample_distinct(uint64_t count,
                                                           Generator& generator) const {
  if (count > size_) {
    return Status::error(str_cat("expert pattern '", to_string(), "' holds ", size_,
                                 " uids: cannot sample ", count, " distinct ones"));
  }
  // Robert Floyd's algorithm: candidate j joins as itself when the draw from [0, j] hit an
  // ordinal already taken, which keeps every subset equally likely.
  std::set<uint64_t> ordinals;
  for (uint64_t candidate = size_ - count; candidate < size_; ++candidate) {
    const uint64_t drawn = generator.next_below(candidate + 1);
    ordinals.insert(ordinals.contains(drawn) ? candidate : drawn);
  }
  std::vector<ExpertUid> uids;
  uids.reserve(count);
  for (const uint64_t ordinal : ordinals) uids.push_back(uid_at(ordinal));
  return uids;
}

}  // namespace hive::moe
