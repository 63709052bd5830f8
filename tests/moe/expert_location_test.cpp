// The DHT value that says where an expert is served: it round-trips, and anything else (a peer
// may store any bytes) is refused with an error that names what is wrong.
#include "moe/protocol/expert_location.h"

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moe/schema/expert_location_generated.h"

namespace hive::moe {
namespace {

net::PeerId fake_peer(uint8_t seed) {
  std::array<std::byte, net::kPeerIdBytes> bytes{};
  bytes.fill(std::byte{seed});
  return net::PeerId(bytes);
}

ExpertLocation location(const char* uid, const char* address) {
  return ExpertLocation{ExpertUid::parse(uid).value(), net::SocketAddress::parse(address).value(),
                        fake_peer(7)};
}

// A buffer with these fields as they are, for values no honest server writes.
std::vector<std::byte> raw_location(const char* uid, const char* address, size_t peer_bytes) {
  flatbuffers::FlatBufferBuilder builder;
  const std::vector<uint8_t> peer(peer_bytes, 7);
  builder.Finish(wire::CreateExpertLocationDirect(builder, uid, address, &peer),
                 wire::ExpertLocationIdentifier());
  const auto* data = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return {data, data + builder.GetSize()};
}

std::string error_of(std::span<const std::byte> value) {
  Result<ExpertLocation> decoded = decode_expert_location(value);
  EXPECT_FALSE(decoded.is_ok());
  return decoded.is_ok() ? "" : decoded.message();
}

TEST(ExpertLocation, RoundTripsIpv4AndIpv6Servers) {
  for (const ExpertLocation& original :
       {location("ffn.3.17", "127.0.0.1:4000"), location("expert.0", "[::1]:65535")}) {
    Result<ExpertLocation> decoded = decode_expert_location(encode_expert_location(original));
    ASSERT_TRUE(decoded.is_ok()) << decoded.message();
    EXPECT_EQ(decoded.value(), original);
  }
}

TEST(ExpertLocation, DecodesFromAnUnalignedSpan) {
  const std::vector<std::byte> value = encode_expert_location(location("ffn.1.2", "10.0.0.1:5"));
  std::vector<std::byte> shifted(value.size() + 1);
  std::copy(value.begin(), value.end(), shifted.begin() + 1);
  Result<ExpertLocation> decoded = decode_expert_location(std::span(shifted).subspan(1));
  ASSERT_TRUE(decoded.is_ok()) << decoded.message();
  EXPECT_EQ(decoded.value(), location("ffn.1.2", "10.0.0.1:5"));
}

TEST(ExpertLocation, EveryTruncationIntoTheFieldsIsRefused) {
  const ExpertLocation original = location("ffn.3.17", "127.0.0.1:4000");
  const std::vector<std::byte> value = encode_expert_location(original);
  for (size_t size = 0; size < value.size(); ++size) {
    Result<ExpertLocation> decoded = decode_expert_location(std::span(value).first(size));
    if (decoded.is_ok()) {
      // The buffer ends with padding to a 4-byte boundary, which no field reads.
      EXPECT_GT(size + 4, value.size()) << size;
      EXPECT_EQ(decoded.value(), original) << size;
    } else {
      EXPECT_NE(decoded.message().find("not an expert location"), std::string::npos)
          << size << ": " << decoded.message();
    }
  }
}

TEST(ExpertLocation, RandomBytesAreRefused) {
  std::mt19937 random(12345);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::byte> value(random() % 96);
    for (std::byte& byte : value) byte = static_cast<std::byte>(random());
    // Half of them carry the right identifier, so the verifier has to do the refusing.
    if (trial % 2 == 0 && value.size() >= 8) {
      std::memcpy(value.data() + 4, wire::ExpertLocationIdentifier(), 4);
    }
    EXPECT_FALSE(decode_expert_location(value).is_ok()) << "trial " << trial;
  }
}

TEST(ExpertLocation, WrongFileIdentifierIsNamed) {
  std::vector<std::byte> value = encode_expert_location(location("ffn.3.17", "127.0.0.1:4000"));
  value[4] = std::byte{'X'};
  const std::string error = error_of(value);
  EXPECT_NE(error.find("file identifier HXL1 missing"), std::string::npos) << error;
}

TEST(ExpertLocation, BadUidIsNamed) {
  const std::string error = error_of(raw_location("ffn.03.1", "127.0.0.1:4000", net::kPeerIdBytes));
  EXPECT_NE(error.find("'ffn.03.1'"), std::string::npos) << error;
  EXPECT_NE(error.find("leading zero"), std::string::npos) << error;
}

TEST(ExpertLocation, BadAddressIsNamed) {
  const std::string error = error_of(raw_location("ffn.3.17", "nowhere:4000", net::kPeerIdBytes));
  EXPECT_NE(error.find("address 'nowhere:4000'"), std::string::npos) << error;
  EXPECT_NE(error.find("ffn.3.17"), std::string::npos) << error;
}

TEST(ExpertLocation, ShortPeerIdIsNamed) {
  const std::string error = error_of(raw_location("ffn.3.17", "127.0.0.1:4000", 19));
  EXPECT_NE(error.find("peer id of 19 bytes, expected 20"), std::string::npos) << error;
}

TEST(ExpertLocation, MissingFieldIsNamed) {
  flatbuffers::FlatBufferBuilder builder;
  const auto uid = builder.CreateString("ffn.3.17");
  wire::ExpertLocationBuilder table(builder);
  table.add_uid(uid);
  builder.Finish(table.Finish(), wire::ExpertLocationIdentifier());
  const auto* data = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  const std::string error = error_of(std::span(data, builder.GetSize()));
  EXPECT_NE(error.find("the address is missing"), std::string::npos) << error;
}

}  // namespace
}  // namespace hive::moe
