// An expert's schema as bytes (FlatBuffers, moe/schema/expert_schema.fbs), for the call that
// lets a client fetch it before sending tensors.
//
// Decoding trusts nothing: the buffer must carry the file identifier and pass
// flatbuffers::Verifier, and every field is checked (known dtypes, at least one input and one
// output and at most kMaxSchemaTensors of each, row shapes of rank < Shape::kMaxRank with
// positive dimensions whose product fits in int64). Errors name the tensor and the field.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "engine/core/status.h"
#include "moe/experts/tensor_schema.h"

namespace hive::moe {

inline constexpr size_t kMaxSchemaTensors = 64;

std::vector<std::byte> encode_expert_schema(const ExpertSchema& schema);
Result<ExpertSchema> decode_expert_schema(std::span<const std::byte> bytes);

}  // namespace hive::moe
