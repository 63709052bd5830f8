#include "moe/uid/expert_uid.h"

#include <ostream>

#include "moe/uid/grid_index.h"

namespace hive::moe {

ExpertUid::ExpertUid(std::string prefix, std::vector<int64_t> indices)
    : prefix_(std::move(prefix)), indices_(std::move(indices)), text_(prefix_) {
  for (const int64_t index : indices_) {
    text_ += kUidDelimiter;
    text_ += std::to_string(index);
  }
}

Result<ExpertUid> ExpertUid::parse(std::string_view text) {
  if (text.empty()) return Status::error("expert uid '' is empty");
  const size_t first_delimiter = text.find(kUidDelimiter);
  if (first_delimiter == std::string_view::npos) {
    return Status::error(str_cat("expert uid '", text,
                                 "' has no index after its prefix (expected prefix.i[.j...], "
                                 "e.g. 'ffn.3.17')"));
  }
  if (first_delimiter == 0) {
    return Status::error(str_cat("expert uid '", text, "': the prefix before the first '",
                                 kUidDelimiter, "' is empty"));
  }
  std::vector<int64_t> indices;
  size_t begin = first_delimiter + 1;
  while (true) {
    const size_t end = std::min(text.find(kUidDelimiter, begin), text.size());
    Result<int64_t> index = parse_grid_index(text.substr(begin, end - begin));
    if (!index.is_ok()) {
      return Status::error(
          str_cat("expert uid '", text, "': index ", indices.size() + 1, " ", index.message()));
    }
    indices.push_back(index.value());
    if (end == text.size()) break;
    begin = end + 1;
  }
  return ExpertUid(std::string(text.substr(0, first_delimiter)), std::move(indices));
}

Result<ExpertUid> ExpertUid::from_parts(std::string prefix, std::vector<int64_t> indices) {
  if (prefix.empty()) return Status::error("expert uid: the prefix is empty");
  if (prefix.find(kUidDelimiter) != std::string::npos) {
    return Status::error(
        str_cat("expert uid: the prefix '", prefix, "' contains '", kUidDelimiter, "'"));
  }
  if (indices.empty()) {
    return Status::error(str_cat("expert uid with prefix '", prefix, "' has no index"));
  }
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0) {
      return Status::error(str_cat("expert uid with prefix '", prefix, "': index ", i + 1, " (",
                                   indices[i], ") is negative"));
    }
  }
  return ExpertUid(std::move(prefix), std::move(indices));
}

std::string ExpertUid::prefix_key(size_t depth) const {
  HIVE_CHECK(depth <= indices_.size(), "prefix_key(", depth, ") of '", text_, "', which has ",
             indices_.size(), " indices");
  std::string key = prefix_ + kUidDelimiter;
  for (size_t i = 0; i < depth; ++i) key += std::to_string(indices_[i]) + kUidDelimiter;
  return key;
}

std::strong_ordering operator<=>(const ExpertUid& a, const ExpertUid& b) {
  if (const auto by_prefix = a.prefix_ <=> b.prefix_; by_prefix != 0) return by_prefix;
  return a.indices_ <=> b.indices_;
}

std::ostream& operator<<(std::ostream& out, const ExpertUid& uid) { return out << uid.to_string(); }

}  // namespace hive::moe
