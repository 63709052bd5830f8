// The DHT records a server stores to announce one of its experts, with hivemind's semantics
// (hivemind/moe/server/dht_handler.py, declare_experts):
//
// - the uid itself ("ffn.3.17") -> the server that hosts it (a plain record), and
// - for every index after the first, the prefix before it -> a subkey holding that index
//   ("ffn.3." -> subkey 17; for "ffn.3.17.5" also "ffn.3.17." -> subkey 5), whose value names
//   the uid and the server. Beam search reads these to learn which next indices are alive.
//
// The top-level prefix ("ffn.") is not announced: beam search starts from the gating scores of
// the first dimension and looks up "ffn.<i>." directly, so every server does not write to one
// hot key. A 1-d uid ("ffn.5") has no index after its first, so it is announced under "ffn.5."
// with the reserved subkey kFlatExpertSubkey, which lets a 1-d beam search read the same kind
// of record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moe/uid/expert_uid.h"

namespace hive::moe {

// hivemind's FLAT_EXPERT: the subkey of a 1-d expert's record. No grid index is negative.
inline constexpr int64_t kFlatExpertSubkey = -1;

struct PrefixRecord {
  std::string prefix;  // a key ending with the delimiter: "ffn.3."
  int64_t subkey = 0;  // the next index under that prefix: 17

  bool operator==(const PrefixRecord&) const = default;
};

// The prefix records of `uid`, shallowest first. The uid's own record has the key
// uid.to_string() and no subkey.
std::vector<PrefixRecord> prefix_records(const ExpertUid& uid);

}  // namespace hive::moe
