#ifndef CIRCUIT_SERVER_COMMON_DATA_CIPHER_H_
#define CIRCUIT_SERVER_COMMON_DATA_CIPHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace circuit {

// A 256-bit data key and its id. Ids only grow: the key with the highest id
// is the one that encrypts.
struct DataKey {
  uint32_t id = 0;
  std::string bytes;  // kKeyBytes
};

// The data keys health data is sealed with at rest, and the seal itself:
// AES-256-GCM (OpenSSL EVP) with a fresh random 96-bit nonce per record and
// the record's identity as associated data, so a sealed record moved to
// another row, class or kind does not open.
//
// A sealed record is, byte for byte:
//   0x00                 marker; never the first byte of a serialized
//                        protobuf message (field number 0 is invalid), so a
//                        sealed record tells itself apart from a plain one
//   0x01                 format version
//   key id               4 bytes, big-endian
//   nonce                12 bytes
//   ciphertext           as long as the plaintext
//   tag                  16 bytes
//
// Immutable once made; thread-safe.
class KeyRing {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kNonceBytes = 12;
  static constexpr size_t kTagBytes = 16;
  static constexpr size_t kHeaderBytes = 2 + 4 + kNonceBytes;
  static constexpr char kMarker = '\0';
  static constexpr char kVersion = '\1';

  // INVALID_ARGUMENT for no keys, a key of the wrong size, id 0, or an id
  // given twice.
  static absl::StatusOr<std::shared_ptr<const KeyRing>> Make(
      std::vector<DataKey> keys);

  // The id of the key that seals.
  uint32_t current_id() const { return keys_.rbegin()->first; }
  // Every id, in increasing order.
  std::vector<uint32_t> ids() const;

  // Seals `plaintext` under the current key, bound to `associated_data`.
  // INTERNAL only when OpenSSL fails (no randomness).
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view associated_data) const;

  // Opens what Seal made with the same associated data. Never returns
  // unauthenticated bytes:
  //   NOT_FOUND   the key it was sealed under is not in this ring
  //   DATA_LOSS   not a sealed record of a known format, or its tag does not
  //               verify (a changed byte, other associated data: a record
  //               moved elsewhere, or another key under the same id)
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view associated_data) const;

  // Whether `bytes` is a sealed record (by its marker; not authenticated).
  static bool IsSealed(absl::string_view bytes) {
    return !bytes.empty() && bytes[0] == kMarker;
  }
  // The key id a sealed record names; DATA_LOSS when it is too short or of
  // an unknown version.
  static absl::StatusOr<uint32_t> KeyIdOf(absl::string_view sealed);

 private:
  explicit KeyRing(std::map<uint32_t, std::string> keys)
      : keys_(std::move(keys)) {}
  std::map<uint32_t, std::string> keys_;  // never empty
};

// Where circuitd finds its data keys. Exactly one source is used: the
// operator's text (key_text, from CIRCUIT_DATA_KEY), else the operator's
// file (key_file), else the key directory.
struct DataKeyOptions {
  // Files `data-<id>.key` (mode 0600) in a directory of mode 0700, each the
  // 64 hex digits of one key. Created, with key 1, when it has no keys.
  std::string key_dir;
  // A file (mode 0600) holding keys in the text form below.
  std::string key_file;
  // Keys in the text form below.
  std::string key_text;
};

// Parses keys given by an operator: one or more keys separated by
// whitespace or commas, each `ID:KEY` or a bare `KEY` (id 1), where KEY is 64
// hex digits or the standard base64 of 32 bytes. INVALID_ARGUMENT names the
// position of what does not parse and never echoes key material.
absl::StatusOr<std::vector<DataKey>> ParseDataKeys(absl::string_view text);

// Loads the key ring from the source `options` names (see DataKeyOptions).
//   FAILED_PRECONDITION  a key file or the key directory may be read by
//                        others than its owner (group/world bits set), or
//                        the directory holds no keys and cannot get one
//   INVALID_ARGUMENT     a key does not parse
//   UNAVAILABLE          a file cannot be read or written
absl::StatusOr<std::shared_ptr<const KeyRing>> LoadDataKeys(
    const DataKeyOptions& options);

// Adds a fresh random key to `key_dir` (made if missing), with an id one above
// the highest there, and returns that id. The file is written whole before it
// gets its name, so a crash leaves no partial key.
absl::StatusOr<uint32_t> AddDataKey(const std::string& key_dir);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_DATA_CIPHER_H_
