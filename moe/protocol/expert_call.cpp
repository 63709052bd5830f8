#include "moe/protocol/expert_call.h"

#include <flatbuffers/flatbuffers.h>

#include <string_view>

#include "moe/schema/expert_call_generated.h"

namespace hive::moe {
namespace {

namespace fb = flatbuffers;

// ExpertCall > uid.
constexpr fb::uoffset_t kMaxDepth = 4;
constexpr fb::uoffset_t kMaxTables = 4;

}  // namespace

std::vector<std::byte> encode_expert_call(const ExpertUid& uid) {
  fb::FlatBufferBuilder builder(64 + uid.to_string().size());
  const auto text = builder.CreateString(uid.to_string());
  builder.Finish(wire::CreateExpertCall(builder, text), wire::ExpertCallIdentifier());
  const auto* data = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return {data, data + builder.GetSize()};
}

Result<ExpertUid> decode_expert_call(std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < fb::kFileIdentifierLength + sizeof(fb::uoffset_t) ||
      !wire::ExpertCallBufferHasIdentifier(data)) {
    return Status::error(str_cat("expert call: metadata of ", bytes.size(),
                                 " bytes is not an ExpertCall (file identifier ",
                                 wire::ExpertCallIdentifier(), " missing)"));
  }
  fb::Verifier verifier(data, bytes.size(), kMaxDepth, kMaxTables);
  if (!wire::VerifyExpertCallBuffer(verifier)) {
    return Status::error(str_cat("expert call: metadata of ", bytes.size(),
                                 " bytes fails FlatBuffers verification"));
  }
  const fb::String* uid = wire::GetExpertCall(data)->uid();
  if (uid == nullptr) return Status::error("expert call: the expert uid is missing");
  if (uid->size() > kMaxUidBytes) {
    return Status::error(str_cat("expert call: the expert uid has ", uid->size(),
                                 " bytes, expected at most ", kMaxUidBytes));
  }
  return ExpertUid::parse(std::string_view(uid->data(), uid->size()));
}

}  // namespace hive::moe
