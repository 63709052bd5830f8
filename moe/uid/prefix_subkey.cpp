#include "moe/uid/prefix_subkey.h"

namespace hive::moe {

std::vector<std::byte> encode_prefix_subkey(int64_t index) {
  const auto bits = static_cast<uint64_t>(index);
  std::vector<std::byte> subkey(kPrefixSubkeyBytes);
  for (size_t i = 0; i < kPrefixSubkeyBytes; ++i) subkey[i] = static_cast<std::byte>(bits >> (8 * i));
  return subkey;
}

std::optional<int64_t> decode_prefix_subkey(std::span<const std::byte> subkey) {
  if (subkey.size() != kPrefixSubkeyBytes) return std::nullopt;
  uint64_t bits = 0;
  for (size_t i = 0; i < kPrefixSubkeyBytes; ++i) {
    bits |= static_cast<uint64_t>(std::to_integer<uint8_t>(subkey[i])) << (8 * i);
  }
  return static_cast<int64_t>(bits);
}

}  // namespace hive::moe
