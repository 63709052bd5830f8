// net/wire/flatbuffer_bytes: finished_bytes copies the builder's buffer, and CheckedFlatBuffer
// accepts a well-formed buffer (aligned or not, reading the same root) and says why it refuses
// one without the identifier, one the Verifier rejects, and one with more tables than allowed.
// The frame header's schema serves as the test schema: its root holds 8-byte scalars.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/schema/frame_generated.h"
#include "net/wire/flatbuffer_bytes.h"

namespace hive::net {
namespace {

using Bytes = std::vector<std::byte>;

constexpr uint64_t kCallId = 0x0102030405060708;

// A header with `tensors` tensor descriptors (one table each).
Bytes header_bytes(size_t tensors = 0) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::TensorDesc>> descriptors;
  for (size_t i = 0; i < tensors; ++i) descriptors.push_back(wire::CreateTensorDesc(builder));
  const auto descriptor_vector = builder.CreateVector(descriptors);
  wire::HeaderBuilder header(builder);
  header.add_call_id(kCallId);
  header.add_tensors(descriptor_vector);
  builder.Finish(header.Finish(), wire::HeaderIdentifier());
  return finished_bytes(builder);
}

FlatBufferCheck check_of(std::span<const std::byte> bytes, FlatBufferLimits limits = {}) {
  return CheckedFlatBuffer(bytes, wire::HeaderIdentifier(), limits, wire::VerifyHeaderBuffer)
      .check();
}

TEST(FlatBufferBytesTest, FinishedBytesAreTheBuildersBuffer) {
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(wire::CreateHeader(builder), wire::HeaderIdentifier());
  const Bytes bytes = finished_bytes(builder);
  ASSERT_EQ(bytes.size(), builder.GetSize());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(),
                         reinterpret_cast<const std::byte*>(builder.GetBufferPointer())));
}

TEST(FlatBufferBytesTest, WellFormedBufferPassesAndReadsItsRoot) {
  const Bytes bytes = header_bytes();
  const CheckedFlatBuffer buffer(bytes, wire::HeaderIdentifier(), {}, wire::VerifyHeaderBuffer);
  ASSERT_TRUE(buffer.ok());
  EXPECT_EQ(buffer.root<wire::Header>().call_id(), kCallId);
}

TEST(FlatBufferBytesTest, MisalignedBufferReadsTheSameRoot) {
  const Bytes bytes = header_bytes();
  Bytes shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  const std::span<const std::byte> misaligned = std::span(shifted).subspan(1);
  const CheckedFlatBuffer buffer(misaligned, wire::HeaderIdentifier(), {},
                                 wire::VerifyHeaderBuffer);
  ASSERT_TRUE(buffer.ok());
  EXPECT_EQ(buffer.root<wire::Header>().call_id(), kCallId);
}

TEST(FlatBufferBytesTest, ShortBufferOrAnotherIdentifierLacksTheIdentifier) {
  const Bytes bytes = header_bytes();
  EXPECT_EQ(check_of(std::span(bytes).first(7)), FlatBufferCheck::kMissingIdentifier);
  EXPECT_EQ(check_of({}), FlatBufferCheck::kMissingIdentifier);
  EXPECT_EQ(CheckedFlatBuffer(bytes, "HDT1", {}, wire::VerifyHeaderBuffer).check(),
            FlatBufferCheck::kMissingIdentifier);
}

TEST(FlatBufferBytesTest, EveryTruncationPastTheIdentifierFailsVerification) {
  const Bytes bytes = header_bytes(2);
  for (size_t size = 8; size < bytes.size(); ++size) {
    EXPECT_EQ(check_of(std::span(bytes).first(size)), FlatBufferCheck::kFailsVerification)
        << "size " << size;
  }
}

TEST(FlatBufferBytesTest, MoreTablesThanTheLimitFailVerification) {
  const Bytes bytes = header_bytes(8);  // the header and 8 descriptors: 9 tables
  EXPECT_EQ(check_of(bytes, {64, 9}), FlatBufferCheck::kOk);
  EXPECT_EQ(check_of(bytes, {64, 8}), FlatBufferCheck::kFailsVerification);
  EXPECT_EQ(check_of(bytes), FlatBufferCheck::kOk);  // a quarter of the size: enough
}

}  // namespace
}  // namespace hive::net
