#ifndef CIRCUIT_SERVER_COMMON_SECRETS_H_
#define CIRCUIT_SERVER_COMMON_SECRETS_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace circuit {

// `n` cryptographically random bytes. A server that cannot make secrets must
// not run: aborts when OpenSSL's generator fails.
std::string RandomBytes(size_t n);

// `bytes` random bytes, hex encoded. Cryptographically random.
std::string RandomHex(int bytes);

// SHA-256 of `text`, as 32 raw bytes. Secrets (resume tokens, client join
// ids, kiosk and account credentials) are kept and journaled only as their
// hashes.
std::string Sha256(absl::string_view text);

// A fresh resume token and its hash: `prefix`, a dot and 48 hex characters,
// cryptographically random (just the 48 without a prefix). A seat's token
// starts with its class id, so a node of a cluster that does not run the
// class can say where it is (TokenClass).
struct NewToken {
  std::string token;
  std::string hash;  // Sha256(token)
};
NewToken MakeToken(absl::string_view prefix = "");
// The prefix of a token MakeToken made with one; "" for none.
absl::string_view TokenPrefix(absl::string_view token);

// Six characters from an alphabet without 0, O, 1 and I, easy to read
// aloud. Cryptographically random: JoinCodeFromBytes of six random bytes.
std::string NewJoinCode();

// The join code for `random`: one character per byte, from the 32 symbols
// 2-9 and A-Z without I and O, picked by the byte's low five bits, so each
// symbol is equally likely when the bytes are uniformly random. Pure.
std::string JoinCodeFromBytes(absl::string_view random);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_COMMON_SECRETS_H_
