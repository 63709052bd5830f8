// The two ends of an application FlatBuffer (a message's metadata, a reply): the finished
// builder as bytes, and a peer's bytes checked before anything reads them. The caller words the
// error, so each protocol keeps its own messages ("DHT message of 7 bytes lacks ...").
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hive::net {

// A copy of the builder's finished buffer (after Finish).
std::vector<std::byte> finished_bytes(const flatbuffers::FlatBufferBuilder& builder);

struct FlatBufferLimits {
  flatbuffers::uoffset_t max_depth = 64;
  // Tables the Verifier may visit. 0: a quarter of the buffer's size. Every table of an honest
  // buffer takes at least 4 bytes of its own, so more tables than that are shared tables, which
  // make verification (and decoding) blow up.
  flatbuffers::uoffset_t max_tables = 0;
};

enum class FlatBufferCheck {
  kOk,
  kMissingIdentifier,   // shorter than a root offset and an identifier, too large, or another id
  kFailsVerification,   // flatbuffers::Verifier refused it
};

// A peer's FlatBuffer: `identifier` checked, then verified by `verify` (the schema's generated
// Verify<Root>Buffer) within `limits`. FlatBuffers reads scalars in place, so bytes that are not
// 8-byte aligned (a slice of a larger buffer) are verified and read from an aligned copy this
// holds; otherwise root() points into the caller's bytes, which must outlive this.
class CheckedFlatBuffer {
 public:
  using Verify = bool (*)(flatbuffers::Verifier&);

  CheckedFlatBuffer(std::span<const std::byte> bytes, const char* identifier,
                    FlatBufferLimits limits, Verify verify);
  // data_ may point into aligned_copy_.
  CheckedFlatBuffer(const CheckedFlatBuffer&) = delete;
  CheckedFlatBuffer& operator=(const CheckedFlatBuffer&) = delete;

  FlatBufferCheck check() const { return check_; }
  bool ok() const { return check_ == FlatBufferCheck::kOk; }
  // Only when ok(): Root must be the type that `verify` checked.
  template <typename Root>
  const Root& root() const {
    return *flatbuffers::GetRoot<Root>(checked_root());
  }

 private:
  const uint8_t* checked_root() const;

  std::vector<uint64_t> aligned_copy_;
  const uint8_t* data_ = nullptr;
  FlatBufferCheck check_ = FlatBufferCheck::kMissingIdentifier;
};

}  // namespace hive::net
