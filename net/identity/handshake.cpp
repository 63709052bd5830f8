#include "net/identity/handshake.h"

#include <sodium.h>

#include <cstring>
#include <string_view>

namespace hive::net {
namespace {

// The domain-separation prefix, without its NUL: a handshake signature can never be mistaken for
// a signature over anything else hive signs.
constexpr std::string_view kHandshakeContext = "hive-handshake-v1";
constexpr size_t kTranscriptBytes =
    kHandshakeContext.size() + 2 * kNonceBytes + 2 * kPublicKeyBytes;
using Transcript = std::array<std::byte, kTranscriptBytes>;

// context | verifier's nonce | signer's nonce | verifier's key | signer's key
Transcript handshake_transcript(const Nonce& verifier_nonce, const Nonce& signer_nonce,
                                const PublicKey& verifier_key, const PublicKey& signer_key) {
  Transcript transcript;
  std::byte* out = transcript.data();
  std::memcpy(out, kHandshakeContext.data(), kHandshakeContext.size());
  out += kHandshakeContext.size();
  std::memcpy(out, verifier_nonce.data(), verifier_nonce.size());
  out += verifier_nonce.size();
  std::memcpy(out, signer_nonce.data(), signer_nonce.size());
  out += signer_nonce.size();
  std::memcpy(out, verifier_key.data(), verifier_key.size());
  out += verifier_key.size();
  std::memcpy(out, signer_key.data(), signer_key.size());
  return transcript;
}

}  // namespace

Nonce random_nonce() {
  ensure_sodium_initialized();
  Nonce nonce;
  randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

Signature sign_handshake(const Identity& self, const Nonce& own_nonce, const PublicKey& peer_key,
                         const Nonce& peer_nonce) {
  // self signs; the peer verifies.
  const Transcript transcript =
      handshake_transcript(peer_nonce, own_nonce, peer_key, self.public_key());
  return self.sign(transcript);
}

bool verify_handshake(const PublicKey& peer_key, const Nonce& peer_nonce, const Identity& self,
                      const Nonce& own_nonce, const Signature& proof) {
  // The peer signed; self verifies.
  const Transcript transcript =
      handshake_transcript(own_nonce, peer_nonce, self.public_key(), peer_key);
  return verify_signature(peer_key, transcript, proof);
}

}  // namespace hive::net
