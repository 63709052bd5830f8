// Peer identity: an ed25519 key pair (libsodium). A peer's id is the BLAKE2b-160 hash of its
// public key, so it can be checked against the key and is the same width as a DHT id.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "net/core/status.h"

namespace hive::net {

inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kPeerIdBytes = 20;

using PublicKey = std::array<std::byte, kPublicKeyBytes>;
using Signature = std::array<std::byte, kSignatureBytes>;

class PeerId {
 public:
  PeerId() = default;
  explicit PeerId(const std::array<std::byte, kPeerIdBytes>& bytes) : bytes_(bytes) {}
  static PeerId from_public_key(const PublicKey& key);
  // 40 lower-case hex digits; parse errors say which character is wrong.
  static Result<PeerId> from_hex(std::string_view hex);

  const std::array<std::byte, kPeerIdBytes>& bytes() const { return bytes_; }
  std::string to_hex() const;
  bool is_zero() const;
  auto operator<=>(const PeerId&) const = default;

 private:
  std::array<std::byte, kPeerIdBytes> bytes_{};
};

// Initializes libsodium once per process (thread-safe); aborts when it cannot.
void ensure_sodium_initialized();

bool verify_signature(const PublicKey& key, std::span<const std::byte> message,
                      const Signature& signature);

class Identity {
 public:
  // A fresh random key pair.
  static Identity generate();
  // A key pair derived from a 32-byte seed: the same seed gives the same identity (tests).
  static Identity from_seed(std::span<const std::byte, 32> seed);
  // Reads the identity file, or creates it (mode 0600, parent directories too) when missing.
  // A file with the wrong size or contents, or readable by others, is an error naming the path.
  static Result<Identity> load_or_create(const std::filesystem::path& path);

  // Every object zeroes its own copy of the secret key when destroyed; a moved-from Identity
  // still holds a valid key pair until then.
  Identity(const Identity&) = default;
  Identity& operator=(const Identity&) = default;
  Identity(Identity&&) noexcept = default;
  Identity& operator=(Identity&&) noexcept = default;
  ~Identity();

  const PublicKey& public_key() const { return public_key_; }
  const PeerId& peer_id() const { return peer_id_; }
  Signature sign(std::span<const std::byte> message) const;

 private:
  Identity() = default;
  void derive_public_parts();
  PublicKey public_key_{};
  std::array<std::byte, 64> secret_key_{};  // libsodium's ed25519 secret key: seed || public key
  PeerId peer_id_;
};

}  // namespace hive::net
