#include "net/identity/identity.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>

namespace hive::net {

// The identity file holds the 32-byte ed25519 seed as 64 lower-case hex digits followed by one
// newline (65 bytes), mode 0600. The public key and the peer id are derived from the seed, so a
// file cannot disagree with itself.
static_assert(kPublicKeyBytes == crypto_sign_PUBLICKEYBYTES);
static_assert(kSignatureBytes == crypto_sign_BYTES);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == 32);
static_assert(kPeerIdBytes >= crypto_generichash_BYTES_MIN &&
              kPeerIdBytes <= crypto_generichash_BYTES_MAX);

namespace {

constexpr size_t kSeedBytes = crypto_sign_SEEDBYTES;
constexpr size_t kSeedHexChars = 2 * kSeedBytes;
constexpr size_t kIdentityFileBytes = kSeedHexChars + 1;  // hex digits and '\n'

unsigned char* as_uchar(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* as_uchar(const std::byte* p) {
  return reinterpret_cast<const unsigned char*>(p);
}

// The value of one hex digit (either case), or -1.
int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Position of the first character of `hex` that is not a hex digit, if any.
std::optional<size_t> first_non_hex(std::string_view hex) {
  for (size_t i = 0; i < hex.size(); ++i) {
    if (hex_digit_value(hex[i]) < 0) return i;
  }
  return std::nullopt;
}

// `text` for an error message, cut short: parsed strings may come from peers and be huge.
std::string excerpt(std::string_view text) {
  constexpr size_t kMaxChars = 64;
  if (text.size() <= kMaxChars) return std::string(text);
  return str_cat(text.substr(0, kMaxChars), "...");
}

std::string errno_text(int error) { return str_cat(std::strerror(error), " (errno ", error, ")"); }

std::string quoted(const std::filesystem::path& path) { return str_cat("'", path.string(), "'"); }

std::string octal_mode(mode_t mode) {
  char text[16];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Zeroes a buffer that held secret material when the scope ends, on every path.
class SecretWipe {
 public:
  SecretWipe(void* data, size_t size) : data_(data), size_(size) {}
  SecretWipe(const SecretWipe&) = delete;
  SecretWipe& operator=(const SecretWipe&) = delete;
  ~SecretWipe() { sodium_memzero(data_, size_); }

 private:
  void* data_;
  size_t size_;
};

// An owned file descriptor. close() reports its error; the destructor (error paths only, where a
// failure is already being reported) closes quietly.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Returns 0, or the errno of the failed close. The descriptor is released either way (on
  // Linux a close that fails with EINTR has still closed it, so it must not be retried).
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Writes all of `data`, retrying short writes and EINTR. Returns 0 or the errno.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

// Reads up to `size` bytes, stopping early only at end of file. Sets `*got`; returns 0 or errno.
int read_up_to(int fd, char* data, size_t size, size_t* got) {
  *got = 0;
  while (*got < size) {
    const ssize_t n = ::read(fd, data + *got, size - *got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return 0;
}

// Makes a completed rename in `dir` durable.
Status fsync_directory(const std::filesystem::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Status(StatusCode::kInternal,
                  str_cat("open directory ", quoted(dir), " to fsync it: ", errno_text(errno)));
  }
  if (::fsync(fd.get()) != 0) {
    return Status(StatusCode::kInternal,
                  str_cat("fsync directory ", quoted(dir), ": ", errno_text(errno)));
  }
  if (const int error = fd.close(); error != 0) {
    return Status(StatusCode::kInternal,
                  str_cat("close directory ", quoted(dir), ": ", errno_text(error)));
  }
  return Status::ok();
}

enum class FileCreation { kCreated, kAlreadyThere };

// Writes the seed file atomically: a fresh 0600 temp file in the same directory, fsync, link it
// to `path` (which fails if `path` exists: two processes creating the same identity at once
// must end up with one key, not two), fsync the directory. A reader never sees a partly
// written file.
Result<FileCreation> write_identity_file(const std::filesystem::path& path,
                                         std::span<const std::byte, kSeedBytes> seed) {
  const std::filesystem::path parent =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    return Status(StatusCode::kInternal, str_cat("create directory ", quoted(parent),
                                                 " for identity file: ", ec.message()));
  }

  constexpr size_t kSuffixBytes = 8;
  std::array<std::byte, kSuffixBytes> suffix_bytes;
  randombytes_buf(suffix_bytes.data(), suffix_bytes.size());
  char suffix[2 * kSuffixBytes + 1];
  sodium_bin2hex(suffix, sizeof(suffix), as_uchar(suffix_bytes.data()), suffix_bytes.size());
  const std::filesystem::path temp =
      parent / str_cat(".", path.filename().string(), ".tmp-", suffix);

  char contents[kIdentityFileBytes + 1];  // sodium_bin2hex writes a NUL after the digits
  SecretWipe wipe_contents(contents, sizeof(contents));
  sodium_bin2hex(contents, kSeedHexChars + 1, as_uchar(seed.data()), seed.size());
  contents[kSeedHexChars] = '\n';

  FileDescriptor fd(::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return Status(StatusCode::kInternal,
                  str_cat("create temporary identity file ", quoted(temp), ": ",
                          errno_text(errno)));
  }
  // From here on a failure removes the temp file so no stray copy of the secret remains.
  auto fail = [&](std::string what, int error) {
    ::unlink(temp.c_str());
    return Status(StatusCode::kInternal,
                  str_cat(what, " ", quoted(temp), " (for ", quoted(path), "): ",
                          errno_text(error)));
  };
  if (const int error = write_all(fd.get(), contents, kIdentityFileBytes); error != 0) {
    return fail("write temporary identity file", error);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync temporary identity file", errno);
  if (const int error = fd.close(); error != 0) {
    return fail("close temporary identity file", error);
  }
  if (::link(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    if (error == EEXIST) {
      ::unlink(temp.c_str());
      return FileCreation::kAlreadyThere;
    }
    return fail("link temporary identity file", error);
  }
  if (::unlink(temp.c_str()) != 0) return fail("remove temporary identity file", errno);
  if (Status status = fsync_directory(parent); !status.is_ok()) return status;
  return FileCreation::kCreated;
}

// Reads and checks the seed file. Errors in the file itself are kInvalidArgument; failing system
// calls are kInternal.
Status read_identity_file(const std::filesystem::path& path, int fd,
                          std::span<std::byte, kSeedBytes> seed) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status(StatusCode::kInternal,
                  str_cat("stat identity file ", quoted(path), ": ", errno_text(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " has mode ", octal_mode(st.st_mode),
                          "; it holds a secret key and must be accessible by its owner only: "
                          "run `chmod 600 ",
                          path.string(), "`"));
  }
  const std::string expected_format =
      str_cat("expected ", kIdentityFileBytes, " bytes: the ", kSeedBytes,
              "-byte ed25519 seed as ", kSeedHexChars, " hex digits and a newline");
  if (st.st_size != static_cast<off_t>(kIdentityFileBytes)) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " is ", st.st_size, " bytes; ",
                          expected_format));
  }

  char contents[kIdentityFileBytes + 1];  // one more, to notice a file that grew meanwhile
  SecretWipe wipe_contents(contents, sizeof(contents));
  size_t got = 0;
  if (const int error = read_up_to(fd, contents, sizeof(contents), &got); error != 0) {
    return Status(StatusCode::kInternal,
                  str_cat("read identity file ", quoted(path), ": ", errno_text(error)));
  }
  if (got != kIdentityFileBytes) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " changed size while being read; ",
                          expected_format));
  }
  const std::string_view digits(contents, kSeedHexChars);
  if (const auto bad = first_non_hex(digits)) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " has a non-hex character at offset ",
                          *bad, "; ", expected_format));
  }
  if (contents[kSeedHexChars] != '\n') {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " does not end with a newline at offset ",
                          kSeedHexChars, "; ", expected_format));
  }
  size_t decoded = 0;
  if (sodium_hex2bin(as_uchar(seed.data()), seed.size(), contents, kSeedHexChars, nullptr,
                     &decoded, nullptr) != 0 ||
      decoded != kSeedBytes) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("identity file ", quoted(path), " could not be decoded; ",
                          expected_format));
  }
  return Status::ok();
}

}  // namespace

void ensure_sodium_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    // sodium_init returns 0 on first success, 1 when already initialized, -1 on failure.
    HIVE_NET_CHECK(sodium_init() >= 0, "sodium_init failed: libsodium cannot be used");
  });
}

PeerId PeerId::from_public_key(const PublicKey& key) {
  ensure_sodium_initialized();
  std::array<std::byte, kPeerIdBytes> hash;
  const int result = crypto_generichash(as_uchar(hash.data()), hash.size(),
                                        as_uchar(key.data()), key.size(), nullptr, 0);
  HIVE_NET_CHECK(result == 0, "crypto_generichash of a public key failed: ", result);
  return PeerId(hash);
}

Result<PeerId> PeerId::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kPeerIdBytes) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("peer id '", excerpt(hex), "' has ", hex.size(), " characters; expected ",
                          2 * kPeerIdBytes, " hex digits"));
  }
  if (const auto bad = first_non_hex(hex)) {
    return Status(StatusCode::kInvalidArgument,
                  str_cat("peer id '", excerpt(hex), "' has a non-hex character '", hex[*bad],
                          "' at position ", *bad, "; expected ", 2 * kPeerIdBytes,
                          " hex digits"));
  }
  std::array<std::byte, kPeerIdBytes> bytes;
  for (size_t i = 0; i < kPeerIdBytes; ++i) {
    const int high = hex_digit_value(hex[2 * i]);
    const int low = hex_digit_value(hex[2 * i + 1]);
    bytes[i] = static_cast<std::byte>(high * 16 + low);
  }
  return PeerId(bytes);
}

std::string PeerId::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * kPeerIdBytes, '0');
  for (size_t i = 0; i < kPeerIdBytes; ++i) {
    const auto value = std::to_integer<unsigned>(bytes_[i]);
    hex[2 * i] = kDigits[value >> 4];
    hex[2 * i + 1] = kDigits[value & 0xf];
  }
  return hex;
}

bool PeerId::is_zero() const {
  for (std::byte b : bytes_) {
    if (b != std::byte{0}) return false;
  }
  return true;
}

bool verify_signature(const PublicKey& key, std::span<const std::byte> message,
                      const Signature& signature) {
  ensure_sodium_initialized();
  return crypto_sign_verify_detached(as_uchar(signature.data()), as_uchar(message.data()),
                                     message.size(), as_uchar(key.data())) == 0;
}

Identity::~Identity() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

void Identity::derive_public_parts() {
  const int result = crypto_sign_ed25519_sk_to_pk(as_uchar(public_key_.data()),
                                                  as_uchar(secret_key_.data()));
  HIVE_NET_CHECK(result == 0, "crypto_sign_ed25519_sk_to_pk failed: ", result);
  peer_id_ = PeerId::from_public_key(public_key_);
}

Identity Identity::generate() {
  ensure_sodium_initialized();
  Identity identity;
  const int result = crypto_sign_keypair(as_uchar(identity.public_key_.data()),
                                         as_uchar(identity.secret_key_.data()));
  HIVE_NET_CHECK(result == 0, "crypto_sign_keypair failed: ", result);
  identity.derive_public_parts();
  return identity;
}

Identity Identity::from_seed(std::span<const std::byte, 32> seed) {
  ensure_sodium_initialized();
  Identity identity;
  const int result = crypto_sign_seed_keypair(as_uchar(identity.public_key_.data()),
                                              as_uchar(identity.secret_key_.data()),
                                              as_uchar(seed.data()));
  HIVE_NET_CHECK(result == 0, "crypto_sign_seed_keypair failed: ", result);
  identity.derive_public_parts();
  return identity;
}

Result<Identity> Identity::load_or_create(const std::filesystem::path& path) {
  ensure_sodium_initialized();
  std::array<std::byte, kSeedBytes> seed;
  SecretWipe wipe_seed(seed.data(), seed.size());

  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno != ENOENT) {
      return Status(StatusCode::kInternal,
                    str_cat("open identity file ", quoted(path), ": ", errno_text(errno)));
    }
    Identity identity = generate();
    const int result = crypto_sign_ed25519_sk_to_seed(as_uchar(seed.data()),
                                                      as_uchar(identity.secret_key_.data()));
    HIVE_NET_CHECK(result == 0, "crypto_sign_ed25519_sk_to_seed failed: ", result);
    auto created = write_identity_file(path, seed);
    if (!created.is_ok()) return created.status();
    if (created.value() == FileCreation::kAlreadyThere) return load_or_create(path);  // lost a race
    return identity;
  }

  if (Status status = read_identity_file(path, fd.get(), seed); !status.is_ok()) return status;
  if (const int error = fd.close(); error != 0) {
    return Status(StatusCode::kInternal,
                  str_cat("close identity file ", quoted(path), ": ", errno_text(error)));
  }
  return from_seed(seed);
}

Signature Identity::sign(std::span<const std::byte> message) const {
  ensure_sodium_initialized();
  Signature signature;
  unsigned long long signature_size = 0;
  const int result =
      crypto_sign_detached(as_uchar(signature.data()), &signature_size, as_uchar(message.data()),
                           message.size(), as_uchar(secret_key_.data()));
  HIVE_NET_CHECK(result == 0 && signature_size == signature.size(),
                 "crypto_sign_detached failed: ", result, ", ", signature_size, " bytes");
  return signature;
}

}  // namespace hive::net
