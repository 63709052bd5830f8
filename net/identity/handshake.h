// The identity handshake run on every connection. Both sides send Hello {public key, nonce}; on
// receiving the other's Hello each side answers with Proof = its signature over a transcript that
// binds both nonces and both keys, so a proof can be replayed neither on another connection nor
// by another peer. A side that cannot sign, or whose key does not hash to the expected peer id,
// is rejected.
//
// Encryption slots in here: Hello already has a reserved `ephemeral_key` field. A version-2
// handshake would put an X25519 key there, extend the signed transcript with both ephemeral
// keys (so the session keys are bound to the proven identities), derive per-direction keys
// (crypto_kx) and seal every frame after Proof (crypto_secretstream). Framing and RPC are
// unaffected: they see plaintext frames either way.
#pragma once

#include <array>
#include <cstddef>

#include "net/identity/identity.h"

namespace hive::net {

inline constexpr size_t kNonceBytes = 32;
using Nonce = std::array<std::byte, kNonceBytes>;

Nonce random_nonce();

// Signs "hive-handshake-v1" | verifier's nonce | signer's nonce | verifier's key | signer's key.
Signature sign_handshake(const Identity& self, const Nonce& own_nonce, const PublicKey& peer_key,
                         const Nonce& peer_nonce);
// Checks a peer's proof made with sign_handshake from the peer's side.
bool verify_handshake(const PublicKey& peer_key, const Nonce& peer_nonce,
                      const Identity& self, const Nonce& own_nonce, const Signature& proof);

}  // namespace hive::net
