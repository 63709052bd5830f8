#include "net/wire/flatbuffer_bytes.h"

#include <cstring>

#include "net/core/check.h"

namespace hive::net {

std::vector<std::byte> finished_bytes(const flatbuffers::FlatBufferBuilder& builder) {
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return {begin, begin + builder.GetSize()};
}

CheckedFlatBuffer::CheckedFlatBuffer(std::span<const std::byte> bytes, const char* identifier,
                                     FlatBufferLimits limits, Verify verify) {
  data_ = reinterpret_cast<const uint8_t*>(bytes.data());
  // The identifier sits after the 4-byte root offset.
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) + flatbuffers::kFileIdentifierLength ||
      bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE ||
      !flatbuffers::BufferHasIdentifier(data_, identifier)) {
    return;
  }
  if (reinterpret_cast<uintptr_t>(data_) % alignof(uint64_t) != 0) {
    aligned_copy_.resize((bytes.size() + sizeof(uint64_t) - 1) / sizeof(uint64_t));
    std::memcpy(aligned_copy_.data(), data_, bytes.size());
    data_ = reinterpret_cast<const uint8_t*>(aligned_copy_.data());
  }
  const flatbuffers::uoffset_t max_tables =
      limits.max_tables != 0 ? limits.max_tables
                             : static_cast<flatbuffers::uoffset_t>(bytes.size() / 4);
  flatbuffers::Verifier verifier(data_, bytes.size(), limits.max_depth, max_tables);
  check_ = verify(verifier) ? FlatBufferCheck::kOk : FlatBufferCheck::kFailsVerification;
}

const uint8_t* CheckedFlatBuffer::checked_root() const {
  HIVE_NET_CHECK(check_ == FlatBufferCheck::kOk, "root() of a FlatBuffer that failed its check");
  return data_;
}

}  // namespace hive::net
