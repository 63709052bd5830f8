// Peer identity: peer ids, signatures, the identity file and the connection handshake.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>

#include "net/identity/handshake.h"
#include "net/identity/identity.h"

namespace hive::net {
namespace {

namespace fs = std::filesystem;

using Seed = std::array<std::byte, 32>;

Seed seed_filled_with(uint8_t value) {
  Seed seed;
  seed.fill(std::byte{value});
  return seed;
}

std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// A fresh directory under the system temp directory, removed with everything in it at scope end.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("hive_identity_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

mode_t permission_bits(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void write_file(const fs::path& path, const std::string& contents, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// --- PeerId ---------------------------------------------------------------------------------

TEST(PeerIdTest, IsBlake2b160OfThePublicKey) {
  const Identity identity = Identity::from_seed(seed_filled_with(7));
  std::array<unsigned char, 20> expected;
  ASSERT_EQ(crypto_generichash(expected.data(), expected.size(),
                               reinterpret_cast<const unsigned char*>(identity.public_key().data()),
                               identity.public_key().size(), nullptr, 0),
            0);
  ASSERT_EQ(identity.peer_id().bytes().size(), 20u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(std::to_integer<unsigned>(identity.peer_id().bytes()[i]), expected[i]) << i;
  }
  EXPECT_EQ(identity.peer_id(), PeerId::from_public_key(identity.public_key()));
}

TEST(PeerIdTest, SameSeedGivesSameIdentity) {
  const Identity a = Identity::from_seed(seed_filled_with(1));
  const Identity b = Identity::from_seed(seed_filled_with(1));
  EXPECT_EQ(a.public_key(), b.public_key());
  EXPECT_EQ(a.peer_id(), b.peer_id());
}

TEST(PeerIdTest, DifferentSeedsGiveDifferentIds) {
  const Identity a = Identity::from_seed(seed_filled_with(1));
  const Identity b = Identity::from_seed(seed_filled_with(2));
  EXPECT_NE(a.public_key(), b.public_key());
  EXPECT_NE(a.peer_id(), b.peer_id());
}

TEST(PeerIdTest, GeneratedIdentitiesDiffer) {
  EXPECT_NE(Identity::generate().peer_id(), Identity::generate().peer_id());
}

TEST(PeerIdTest, HexRoundTrips) {
  const PeerId id = Identity::from_seed(seed_filled_with(3)).peer_id();
  const std::string hex = id.to_hex();
  ASSERT_EQ(hex.size(), 40u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  const Result<PeerId> parsed = PeerId::from_hex(hex);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed.value(), id);
}

TEST(PeerIdTest, ToHexWritesBytesInOrder) {
  std::array<std::byte, kPeerIdBytes> bytes{};
  bytes[0] = std::byte{0x01};
  bytes[1] = std::byte{0xab};
  bytes[19] = std::byte{0xf0};
  EXPECT_EQ(PeerId(bytes).to_hex(), "01ab0000000000000000000000000000000000f0");
}

TEST(PeerIdTest, FromHexRejectsWrongLength) {
  const Result<PeerId> parsed = PeerId::from_hex("0123456789abcdef0123456789abcdef0123456");
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("39"), std::string::npos)
      << parsed.status().message();
  EXPECT_FALSE(PeerId::from_hex("").is_ok());
  EXPECT_FALSE(PeerId::from_hex(std::string(41, 'a')).is_ok());
}

TEST(PeerIdTest, FromHexRejectsNonHexCharacterAndNamesItsPosition) {
  std::string hex(40, 'a');
  hex[17] = 'g';
  const Result<PeerId> parsed = PeerId::from_hex(hex);
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("position 17"), std::string::npos)
      << parsed.status().message();
}

TEST(PeerIdTest, DefaultIsZeroAndDerivedIsNot) {
  EXPECT_TRUE(PeerId().is_zero());
  EXPECT_FALSE(Identity::from_seed(seed_filled_with(0)).peer_id().is_zero());
}

// --- Signatures -----------------------------------------------------------------------------

TEST(SignatureTest, SignedMessageVerifies) {
  const Identity identity = Identity::generate();
  const std::string message = "expert 12 of layer 3";
  const Signature signature = identity.sign(bytes_of(message));
  EXPECT_TRUE(verify_signature(identity.public_key(), bytes_of(message), signature));
}

TEST(SignatureTest, EmptyMessageVerifies) {
  const Identity identity = Identity::generate();
  const Signature signature = identity.sign({});
  EXPECT_TRUE(verify_signature(identity.public_key(), {}, signature));
}

TEST(SignatureTest, TamperedMessageIsRejected) {
  const Identity identity = Identity::generate();
  std::string message = "expert 12 of layer 3";
  const Signature signature = identity.sign(bytes_of(message));
  message[7] = '3';
  EXPECT_FALSE(verify_signature(identity.public_key(), bytes_of(message), signature));
}

TEST(SignatureTest, TamperedSignatureIsRejected) {
  const Identity identity = Identity::generate();
  const std::string message = "expert 12 of layer 3";
  Signature signature = identity.sign(bytes_of(message));
  signature[10] ^= std::byte{0x01};
  EXPECT_FALSE(verify_signature(identity.public_key(), bytes_of(message), signature));
}

TEST(SignatureTest, OtherKeyIsRejected) {
  const Identity signer = Identity::generate();
  const Identity other = Identity::generate();
  const std::string message = "expert 12 of layer 3";
  EXPECT_FALSE(verify_signature(other.public_key(), bytes_of(message),
                                signer.sign(bytes_of(message))));
}

TEST(SignatureTest, CopiedAndMovedIdentitiesSignLikeTheOriginal) {
  const Identity original = Identity::from_seed(seed_filled_with(9));
  const std::string message = "hello";
  const Signature expected = original.sign(bytes_of(message));  // ed25519 is deterministic
  Identity copy = original;
  EXPECT_EQ(copy.sign(bytes_of(message)), expected);
  Identity moved = std::move(copy);
  EXPECT_EQ(moved.sign(bytes_of(message)), expected);
  Identity assigned = Identity::generate();
  assigned = moved;
  EXPECT_EQ(assigned.sign(bytes_of(message)), expected);
  EXPECT_EQ(assigned.peer_id(), original.peer_id());
}

// --- Identity file --------------------------------------------------------------------------

TEST(IdentityFileTest, CreatesOwnerOnlyFileWhenMissing) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  const Result<Identity> created = Identity::load_or_create(path);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_EQ(permission_bits(path), 0600u);
  EXPECT_EQ(fs::file_size(path), 65u);
  // Only the file itself is left behind: no temporary files.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(IdentityFileTest, SecondLoadGivesSameIdentity) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  const Result<Identity> first = Identity::load_or_create(path);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  const Result<Identity> second = Identity::load_or_create(path);
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second.value().peer_id(), first.value().peer_id());
  EXPECT_EQ(second.value().public_key(), first.value().public_key());
}

TEST(IdentityFileTest, FileHoldsTheSeedAsHex) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  write_file(path, std::string(64, '0') + "\n", 0600);
  const Result<Identity> loaded = Identity::load_or_create(path);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded.value().peer_id(), Identity::from_seed(seed_filled_with(0)).peer_id());
}

TEST(IdentityFileTest, CreatesMissingParentDirectories) {
  const TempDir dir;
  const fs::path path = dir.path() / "a" / "b" / "c" / "identity.key";
  const Result<Identity> created = Identity::load_or_create(path);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_TRUE(fs::is_regular_file(path));
  const Result<Identity> again = Identity::load_or_create(path);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again.value().peer_id(), created.value().peer_id());
}

TEST(IdentityFileTest, FileReadableByOthersIsRejected) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  ASSERT_TRUE(Identity::load_or_create(path).is_ok());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const Result<Identity> loaded = Identity::load_or_create(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = loaded.status().message();
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("0644"), std::string::npos) << message;
  EXPECT_NE(message.find("chmod 600"), std::string::npos) << message;
}

TEST(IdentityFileTest, FileWritableByGroupIsRejected) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  write_file(path, std::string(64, '0') + "\n", 0620);
  const Result<Identity> loaded = Identity::load_or_create(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("0620"), std::string::npos)
      << loaded.status().message();
}

TEST(IdentityFileTest, NonHexContentIsRejected) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  std::string contents = std::string(64, '0') + "\n";
  contents[5] = 'x';
  write_file(path, contents, 0600);
  const Result<Identity> loaded = Identity::load_or_create(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find(path.string()), std::string::npos)
      << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("offset 5"), std::string::npos)
      << loaded.status().message();
}

TEST(IdentityFileTest, WrongSizeIsRejected) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  write_file(path, std::string(40, '0') + "\n", 0600);
  const Result<Identity> loaded = Identity::load_or_create(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find(path.string()), std::string::npos)
      << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("41 bytes"), std::string::npos)
      << loaded.status().message();
}

TEST(IdentityFileTest, MissingTrailingNewlineIsRejected) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  write_file(path, std::string(65, '0'), 0600);
  const Result<Identity> loaded = Identity::load_or_create(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
}

TEST(IdentityFileTest, RejectedFileIsLeftUntouched) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  write_file(path, "garbage\n", 0600);
  ASSERT_FALSE(Identity::load_or_create(path).is_ok());
  std::ifstream in(path, std::ios::binary);
  const std::string contents((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, "garbage\n");
}

TEST(IdentityFileTest, DirectoryInPlaceOfFileIsRejected) {
  const TempDir dir;
  const fs::path path = dir.path() / "identity.key";
  fs::create_directory(path);
  ASSERT_EQ(::chmod(path.c_str(), 0700), 0);
  EXPECT_FALSE(Identity::load_or_create(path).is_ok());
}

// --- Handshake ------------------------------------------------------------------------------

struct HandshakeSides {
  Identity a = Identity::from_seed(seed_filled_with(0xa));
  Identity b = Identity::from_seed(seed_filled_with(0xb));
  Nonce a_nonce = random_nonce();
  Nonce b_nonce = random_nonce();
};

TEST(HandshakeTest, NoncesAreRandom) { EXPECT_NE(random_nonce(), random_nonce()); }

TEST(HandshakeTest, BothSidesVerifyEachOthersProof) {
  const HandshakeSides s;
  const Signature a_proof = sign_handshake(s.a, s.a_nonce, s.b.public_key(), s.b_nonce);
  const Signature b_proof = sign_handshake(s.b, s.b_nonce, s.a.public_key(), s.a_nonce);
  EXPECT_TRUE(verify_handshake(s.a.public_key(), s.a_nonce, s.b, s.b_nonce, a_proof));
  EXPECT_TRUE(verify_handshake(s.b.public_key(), s.b_nonce, s.a, s.a_nonce, b_proof));
}

TEST(HandshakeTest, ProofOverAnotherVerifierNonceIsRejected) {
  const HandshakeSides s;
  // A replays a proof made for an earlier connection, where B used a different nonce.
  const Nonce old_b_nonce = random_nonce();
  const Signature a_proof = sign_handshake(s.a, s.a_nonce, s.b.public_key(), old_b_nonce);
  EXPECT_FALSE(verify_handshake(s.a.public_key(), s.a_nonce, s.b, s.b_nonce, a_proof));
}

TEST(HandshakeTest, ProofOverAnotherSignerNonceIsRejected) {
  const HandshakeSides s;
  const Signature a_proof = sign_handshake(s.a, s.a_nonce, s.b.public_key(), s.b_nonce);
  EXPECT_FALSE(verify_handshake(s.a.public_key(), random_nonce(), s.b, s.b_nonce, a_proof));
}

TEST(HandshakeTest, ProofByAnotherKeyIsRejected) {
  const HandshakeSides s;
  const Identity mallory = Identity::generate();
  // Mallory signs the transcript but claims to be A.
  const Signature forged = sign_handshake(mallory, s.a_nonce, s.b.public_key(), s.b_nonce);
  EXPECT_FALSE(verify_handshake(s.a.public_key(), s.a_nonce, s.b, s.b_nonce, forged));
}

TEST(HandshakeTest, ProofForAnotherVerifierIsRejected) {
  const HandshakeSides s;
  const Identity c = Identity::from_seed(seed_filled_with(0xc));
  // A's proof to B, relayed by B to C using the same nonces, does not convince C.
  const Signature a_proof = sign_handshake(s.a, s.a_nonce, s.b.public_key(), s.b_nonce);
  EXPECT_FALSE(verify_handshake(s.a.public_key(), s.a_nonce, c, s.b_nonce, a_proof));
}

TEST(HandshakeTest, ProofWithRolesSwappedIsRejected) {
  const HandshakeSides s;
  // B's proof reflected back to B as if A had made it: the transcript order binds the roles.
  const Signature b_proof = sign_handshake(s.b, s.b_nonce, s.a.public_key(), s.a_nonce);
  EXPECT_FALSE(verify_handshake(s.a.public_key(), s.a_nonce, s.b, s.b_nonce, b_proof));
  // A's proof checked by A itself, as though B had sent it.
  const Signature a_proof = sign_handshake(s.a, s.a_nonce, s.b.public_key(), s.b_nonce);
  EXPECT_FALSE(verify_handshake(s.b.public_key(), s.b_nonce, s.a, s.a_nonce, a_proof));
}

TEST(HandshakeTest, TranscriptStartsWithContextWithoutNul) {
  // Recompute the documented transcript by hand and check A's proof against it.
  const HandshakeSides s;
  const Signature a_proof = sign_handshake(s.a, s.a_nonce, s.b.public_key(), s.b_nonce);
  std::string transcript = "hive-handshake-v1";
  auto append = [&transcript](const auto& bytes) {
    transcript.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  append(s.b_nonce);           // verifier's nonce
  append(s.a_nonce);           // signer's nonce
  append(s.b.public_key());    // verifier's key
  append(s.a.public_key());    // signer's key
  ASSERT_EQ(transcript.size(), 17u + 32 + 32 + 32 + 32);
  EXPECT_TRUE(verify_signature(s.a.public_key(), bytes_of(transcript), a_proof));
}

}  // namespace
}  // namespace hive::net
