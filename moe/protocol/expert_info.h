// What a server tells a client about one of its experts (the moe.info reply): the schema its
// calls must match and the most rows one call may carry (moe/schema/expert_info.fbs).
//
// Decoding trusts nothing: the file identifier, flatbuffers::Verifier, the nested schema
// (decode_expert_schema's checks) and a positive max batch size. Errors name the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/status.h"
#include "moe/experts/tensor_schema.h"

namespace hive::moe {

struct ExpertInfo {
  ExpertSchema schema;
  int64_t max_batch_size = 0;

  bool operator==(const ExpertInfo&) const = default;
};

std::vector<std::byte> encode_expert_info(const ExpertInfo& info);
Result<ExpertInfo> decode_expert_info(std::span<const std::byte> bytes);

}  // namespace hive::moe
