#include "moe/protocol/expert_call.h"

#include <flatbuffers/flatbuffers.h>

#include <string_view>

#include "moe/schema/expert_call_generated.h"
#include "net/wire/flatbuffer_bytes.h"

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
  return net::finished_bytes(builder);
}

Result<ExpertUid> decode_expert_call(std::span<const std::byte> bytes) {
  const net::CheckedFlatBuffer buffer(bytes, wire::ExpertCallIdentifier(),
                                      {kMaxDepth, kMaxTables}, wire::VerifyExpertCallBuffer);
  switch (buffer.check()) {
    case net::FlatBufferCheck::kOk: break;
    case net::FlatBufferCheck::kMissingIdentifier:
      return Status::error(str_cat("expert call: metadata of ", bytes.size(),
                                   " bytes is not an ExpertCall (file identifier ",
                                   wire::ExpertCallIdentifier(), " missing)"));
    case net::FlatBufferCheck::kFailsVerification:
      return Status::error(str_cat("expert call: metadata of ", bytes.size(),
                                   " bytes fails FlatBuffers verification"));
  }
  const fb::String* uid = buffer.root<wire::ExpertCall>().uid();
  if (uid == nullptr) return Status::error("expert call: the expert uid is missing");
  if (uid->size() > kMaxUidBytes) {
    return Status::error(str_cat("expert call: the expert uid has ", uid->size(),
                                 " bytes, expected at most ", kMaxUidBytes));
  }
  return ExpertUid::parse(std::string_view(uid->data(), uid->size()));
}

}  // namespace hive::moe
