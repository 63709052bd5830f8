// DHT ids: hex text, hashing keys, peer ids, XOR distance and shared prefixes.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "dht/core/dht_id.h"

namespace hive::dht {
namespace {

DhtId id_from_hex(std::string_view hex) {
  auto parsed = DhtId::from_hex(hex);
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  return parsed.is_ok() ? parsed.value() : DhtId();
}

DhtId all_ones() {
  std::array<uint8_t, kIdBytes> bytes;
  bytes.fill(0xff);
  return DhtId(bytes);
}

TEST(DhtId, HexRoundTripsRandomIds) {
  RandomSource random(7);
  for (int i = 0; i < 100; ++i) {
    const DhtId id = DhtId::random(random);
    const std::string hex = id.to_hex();
    ASSERT_EQ(hex.size(), 2 * kIdBytes);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    EXPECT_EQ(id_from_hex(hex), id);
  }
}

TEST(DhtId, HexAcceptsUpperCaseAndWritesLowerCase) {
  const DhtId id = id_from_hex("00FF10aB000000000000000000000000000000C1");
  EXPECT_EQ(id.bytes()[0], 0x00);
  EXPECT_EQ(id.bytes()[1], 0xff);
  EXPECT_EQ(id.bytes()[2], 0x10);
  EXPECT_EQ(id.bytes()[3], 0xab);
  EXPECT_EQ(id.bytes()[19], 0xc1);
  EXPECT_EQ(id.to_hex(), "00ff10ab000000000000000000000000000000c1");
}

TEST(DhtId, FromHexRejectsWrongLength) {
  for (const std::string_view hex :
       {std::string_view(""), std::string_view("abc"),
        std::string_view("000000000000000000000000000000000000000"),       // 39
        std::string_view("00000000000000000000000000000000000000000")}) {  // 41
    const auto parsed = DhtId::from_hex(hex);
    ASSERT_FALSE(parsed.is_ok()) << hex;
    EXPECT_EQ(parsed.status().code(), net::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::to_string(hex.size()) + " characters"),
              std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("expected 40 hex digits"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(DhtId, FromHexNamesFirstBadCharacterAndPosition) {
  const auto parsed = DhtId::from_hex("0123456789abcdef0123456789abcdeg0123456z");
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().code(), net::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("'g' at position 31"), std::string::npos)
      << parsed.status().message();
}

TEST(DhtId, FromHexCutsHugeInputShortInMessage) {
  const std::string huge(100000, 'x');
  const auto parsed = DhtId::from_hex(huge);
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_LT(parsed.status().message().size(), 300u);
  EXPECT_NE(parsed.status().message().find("100000 characters"), std::string::npos);
}

TEST(DhtId, OfKeyIsBlake2b160OfKeyBytes) {
  for (const std::string& key : {std::string(""), std::string("abc"), std::string("ffn.3.17"),
                                 std::string("with\0nul", 8), std::string(1000, 'k')}) {
    std::array<uint8_t, kIdBytes> expected;
    ASSERT_GE(sodium_init(), 0);
    ASSERT_EQ(crypto_generichash(expected.data(), expected.size(),
                                 reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                                 nullptr, 0),
              0);
    EXPECT_EQ(DhtId::of_key(key), DhtId(expected)) << key.size();
  }
}

TEST(DhtId, OfKeyMatchesKnownBlake2b160Values) {
  // hashlib.blake2b(key, digest_size=20).hexdigest()
  EXPECT_EQ(DhtId::of_key("").to_hex(), "3345524abf6bbe1809449224b5972c41790b6cf2");
  EXPECT_EQ(DhtId::of_key("abc").to_hex(), "384264f676f39536840523f284921cdc68b6846b");
  EXPECT_EQ(DhtId::of_key("ffn.3.17").to_hex(), "3c0641e4b30e6dbaad01a511688c165497801e08");
}

TEST(DhtId, OfKeyIsStableAndSeparatesKeys) {
  EXPECT_EQ(DhtId::of_key("ffn.3."), DhtId::of_key("ffn.3."));
  std::set<DhtId> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(DhtId::of_key("expert." + std::to_string(i)));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(DhtId, FromPeerIdCopiesItsBytes) {
  std::array<std::byte, net::kPeerIdBytes> bytes;
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(static_cast<uint8_t>(i * 13 + 1));
  const net::PeerId peer(bytes);
  const DhtId id = DhtId::from_peer_id(peer);
  for (size_t i = 0; i < kIdBytes; ++i) EXPECT_EQ(id.bytes()[i], static_cast<uint8_t>(i * 13 + 1));
  EXPECT_EQ(id.to_hex(), peer.to_hex());
}

TEST(DhtId, RandomIsDeterministicPerSeed) {
  RandomSource a(42);
  RandomSource b(42);
  RandomSource c(43);
  const DhtId from_a = DhtId::random(a);
  EXPECT_EQ(from_a, DhtId::random(b));
  EXPECT_NE(from_a, DhtId::random(c));
  EXPECT_NE(from_a, DhtId::random(a));
}

TEST(DhtId, XorIsAMetricGroup) {
  RandomSource random(3);
  const DhtId zero;
  for (int i = 0; i < 100; ++i) {
    const DhtId a = DhtId::random(random);
    const DhtId b = DhtId::random(random);
    const DhtId c = DhtId::random(random);
    EXPECT_EQ(a ^ a, zero);
    EXPECT_EQ(a ^ zero, a);
    EXPECT_EQ(a ^ b, b ^ a);
    EXPECT_EQ((a ^ b) ^ c, a ^ (b ^ c));
    EXPECT_EQ((a ^ b) ^ b, a);
    EXPECT_NE(a ^ b, zero);
    // XOR distance is an ultrametric: a shares with c at least the shorter of the prefixes
    // that a shares with b and b shares with c.
    EXPECT_GE(common_prefix_bits(a, c),
              std::min(common_prefix_bits(a, b), common_prefix_bits(b, c)));
  }
}

TEST(DhtId, OrderIsNumericBigEndian) {
  EXPECT_LT(id_from_hex("00000000000000000000000000000000000000ff"),
            id_from_hex("0000000000000000000000000000000000000100"));
  EXPECT_LT(id_from_hex("7fffffffffffffffffffffffffffffffffffffff"),
            id_from_hex("8000000000000000000000000000000000000000"));
}

TEST(DhtId, CommonPrefixBitsHandComputedCases) {
  const DhtId zero;
  EXPECT_EQ(common_prefix_bits(zero, zero), 160u);
  EXPECT_EQ(common_prefix_bits(zero, all_ones()), 0u);
  EXPECT_EQ(common_prefix_bits(zero, id_from_hex("8000000000000000000000000000000000000000")), 0u);
  EXPECT_EQ(common_prefix_bits(zero, id_from_hex("0100000000000000000000000000000000000000")), 7u);
  EXPECT_EQ(common_prefix_bits(zero, id_from_hex("0080000000000000000000000000000000000000")), 8u);
  // Byte 2 = 0x10 = 0001'0000: the first difference is bit 16 + 3.
  EXPECT_EQ(common_prefix_bits(zero, id_from_hex("0000100000000000000000000000000000000000")), 19u);
  EXPECT_EQ(common_prefix_bits(zero, id_from_hex("0000000000000000000000000000000000000001")),
            159u);
  EXPECT_EQ(common_prefix_bits(id_from_hex("abcdef0000000000000000000000000000000000"),
                               id_from_hex("abcdee0000000000000000000000000000000000")),
            23u);
  EXPECT_EQ(common_prefix_bits(id_from_hex("f0f0000000000000000000000000000000000000"),
                               id_from_hex("f0e0000000000000000000000000000000000000")),
            11u);
}

TEST(DhtId, BitWithBitAndPrefixAgree) {
  RandomSource random(11);
  const DhtId id = DhtId::random(random);
  for (size_t index = 0; index < kIdBits; ++index) {
    EXPECT_TRUE(id.with_bit(index, true).bit(index));
    EXPECT_FALSE(id.with_bit(index, false).bit(index));
    EXPECT_EQ(common_prefix_bits(id, id.with_bit(index, !id.bit(index))), index);
  }
  for (size_t bits = 0; bits <= kIdBits; ++bits) {
    const DhtId cut = id.prefix(bits);
    EXPECT_GE(common_prefix_bits(cut, id), bits);
    for (size_t index = bits; index < kIdBits; ++index) ASSERT_FALSE(cut.bit(index)) << bits;
  }
  EXPECT_EQ(id.prefix(kIdBits), id);
  EXPECT_EQ(id.prefix(0), DhtId());
}

TEST(DhtId, RandomWithPrefixKeepsThePrefixAndVariesTheRest) {
  RandomSource random(5);
  const DhtId prefix = DhtId::random(random);
  for (size_t bits = 0; bits <= kIdBits; ++bits) {
    const DhtId id = DhtId::random_with_prefix(prefix, bits, random);
    EXPECT_GE(common_prefix_bits(id, prefix), bits) << bits;
  }
  // With 100 free bits, 50 draws are all distinct and differ from the prefix past bit 60.
  std::set<DhtId> drawn;
  for (int i = 0; i < 50; ++i) drawn.insert(DhtId::random_with_prefix(prefix, 60, random));
  EXPECT_EQ(drawn.size(), 50u);
}

}  // namespace
}  // namespace hive::dht
