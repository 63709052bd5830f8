// How a prefix record's subkey spells the next index (moe/uid/prefix_records.h): the index as 8
// bytes, a two's-complement int64 in little-endian order ("ffn.3." -> subkey 17 is the bytes
// 11 00 00 00 00 00 00 00; kFlatExpertSubkey is eight 0xff bytes). A fixed width gives every
// index exactly one spelling, so two servers announcing the same expert write the same subkey.
// The announcer writes these subkeys and beam search reads them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace hive::moe {

inline constexpr size_t kPrefixSubkeyBytes = 8;

std::vector<std::byte> encode_prefix_subkey(int64_t index);
// The index a subkey spells; nullopt when it is not kPrefixSubkeyBytes long (a subkey from the
// DHT is a peer's input). Range checks against the grid are the reader's.
std::optional<int64_t> decode_prefix_subkey(std::span<const std::byte> subkey);

}  // namespace hive::moe
