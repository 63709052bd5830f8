#include "moe/uid/prefix_records.h"

namespace hive::moe {

std::vector<PrefixRecord> prefix_records(const ExpertUid& uid) {
  const std::vector<int64_t>& indices = uid.indices();
  if (indices.size() == 1) return {{uid.prefix_key(1), kFlatExpertSubkey}};
  std::vector<PrefixRecord> records;
  records.reserve(indices.size() - 1);
  for (size_t depth = 1; depth < indices.size(); ++depth) {
    records.push_back({uid.prefix_key(depth), indices[depth]});
  }
  return records;
}

}  // namespace hive::moe
