#include "moe/protocol/expert_location.h"

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstring>
#include <string_view>

#include "moe/schema/expert_location_generated.h"
#include "net/wire/flatbuffer_bytes.h"

namespace hive::moe {
namespace {

namespace fb = flatbuffers;

// One table holding two strings and a byte vector.
constexpr fb::uoffset_t kMaxDepth = 2;
constexpr fb::uoffset_t kMaxTables = 1;

std::string_view view_of(const fb::String* text) { return {text->data(), text->size()}; }

}  // namespace

std::vector<std::byte> encode_expert_location(const ExpertLocation& location) {
  const std::string address = location.address.to_string();
  fb::FlatBufferBuilder builder(64 + location.uid.to_string().size() + address.size());
  const auto uid = builder.CreateString(location.uid.to_string());
  const auto address_text = builder.CreateString(address);
  const auto& peer = location.peer.bytes();
  const auto peer_bytes =
      builder.CreateVector(reinterpret_cast<const uint8_t*>(peer.data()), peer.size());
  builder.Finish(wire::CreateExpertLocation(builder, uid, address_text, peer_bytes),
                 wire::ExpertLocationIdentifier());
  return net::finished_bytes(builder);
}

Result<ExpertLocation> decode_expert_location(std::span<const std::byte> value) {
  // A value may sit anywhere in a received datagram: CheckedFlatBuffer aligns it if needed.
  const net::CheckedFlatBuffer buffer(value, wire::ExpertLocationIdentifier(),
                                      {kMaxDepth, kMaxTables}, wire::VerifyExpertLocationBuffer);
  switch (buffer.check()) {
    case net::FlatBufferCheck::kOk: break;
    case net::FlatBufferCheck::kMissingIdentifier:
      return Status::error(str_cat("expert location: a value of ", value.size(),
                                   " bytes is not an expert location (file identifier ",
                                   wire::ExpertLocationIdentifier(), " missing)"));
    case net::FlatBufferCheck::kFailsVerification:
      return Status::error(str_cat("expert location: a value of ", value.size(),
                                   " bytes is not an expert location (fails FlatBuffers "
                                   "verification)"));
  }
  const wire::ExpertLocation& root = buffer.root<wire::ExpertLocation>();
  if (root.uid() == nullptr) return Status::error("expert location: the uid is missing");
  if (root.address() == nullptr) return Status::error("expert location: the address is missing");
  if (root.peer() == nullptr) return Status::error("expert location: the peer id is missing");

  Result<ExpertUid> uid = ExpertUid::parse(view_of(root.uid()));
  if (!uid.is_ok()) return Status::error(str_cat("expert location: ", uid.message()));
  const std::string_view address_text = view_of(root.address());
  net::Result<net::SocketAddress> address = net::SocketAddress::parse(address_text);
  if (!address.is_ok()) {
    return Status::error(str_cat("expert location of '", uid.value().to_string(), "': address '",
                                 address_text, "': ", address.status().message()));
  }
  if (root.peer()->size() != net::kPeerIdBytes) {
    return Status::error(str_cat("expert location of '", uid.value().to_string(), "': peer id of ",
                                 root.peer()->size(), " bytes, expected ", net::kPeerIdBytes));
  }
  std::array<std::byte, net::kPeerIdBytes> peer{};
  std::memcpy(peer.data(), root.peer()->data(), peer.size());
  return ExpertLocation{std::move(uid).value(), address.value(), net::PeerId(peer)};
}

}  // namespace hive::moe
