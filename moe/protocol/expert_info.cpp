#include "moe/protocol/expert_info.h"

#include <flatbuffers/flatbuffers.h>

#include "moe/experts/schema_codec.h"
#include "moe/schema/expert_info_generated.h"
#include "net/wire/flatbuffer_bytes.h"

namespace hive::moe {
namespace {

namespace fb = flatbuffers;

// ExpertInfo > schema bytes (the nested schema is verified by decode_expert_schema).
constexpr fb::uoffset_t kMaxDepth = 4;
constexpr fb::uoffset_t kMaxTables = 4;

}  // namespace

std::vector<std::byte> encode_expert_info(const ExpertInfo& info) {
  const std::vector<std::byte> schema = encode_expert_schema(info.schema);
  fb::FlatBufferBuilder builder(128 + schema.size());
  const auto schema_bytes =
      builder.CreateVector(reinterpret_cast<const uint8_t*>(schema.data()), schema.size());
  builder.Finish(wire::CreateExpertInfo(builder, schema_bytes, info.max_batch_size),
                 wire::ExpertInfoIdentifier());
  return net::finished_bytes(builder);
}

Result<ExpertInfo> decode_expert_info(std::span<const std::byte> bytes) {
  const net::CheckedFlatBuffer buffer(bytes, wire::ExpertInfoIdentifier(),
                                      {kMaxDepth, kMaxTables}, wire::VerifyExpertInfoBuffer);
  switch (buffer.check()) {
    case net::FlatBufferCheck::kOk: break;
    case net::FlatBufferCheck::kMissingIdentifier:
      return Status::error(str_cat("expert info: reply of ", bytes.size(),
                                   " bytes is not an ExpertInfo (file identifier ",
                                   wire::ExpertInfoIdentifier(), " missing)"));
    case net::FlatBufferCheck::kFailsVerification:
      return Status::error(str_cat("expert info: reply of ", bytes.size(),
                                   " bytes fails FlatBuffers verification"));
  }
  const wire::ExpertInfo& root = buffer.root<wire::ExpertInfo>();
  if (root.max_batch_size() <= 0) {
    return Status::error(str_cat("expert info: max batch size ", root.max_batch_size(),
                                 ", expected a positive number of rows"));
  }
  if (root.schema() == nullptr) return Status::error("expert info: the schema is missing");
  Result<ExpertSchema> schema = decode_expert_schema(
      std::as_bytes(std::span(root.schema()->data(), root.schema()->size())));
  if (!schema.is_ok()) return Status::error(str_cat("expert info: ", schema.message()));
  return ExpertInfo{std::move(schema).value(), root.max_batch_size()};
}

}  // namespace hive::moe
