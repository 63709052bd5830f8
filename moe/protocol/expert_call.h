// The metadata of an expert call: which expert it is for (moe/schema/expert_call.fbs).
//
// Decoding trusts nothing: the buffer must carry the file identifier and pass
// flatbuffers::Verifier, and the uid must be present, at most kMaxUidBytes long, and parse as
// an ExpertUid. Errors say which of these failed.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "engine/core/status.h"
#include "moe/uid/expert_uid.h"

namespace hive::moe {

// Longer uids are refused before parsing (they come from peers and end up in error messages).
inline constexpr size_t kMaxUidBytes = 256;

std::vector<std::byte> encode_expert_call(const ExpertUid& uid);
Result<ExpertUid> decode_expert_call(std::span<const std::byte> bytes);

}  // namespace hive::moe
