#include "server/common/secrets.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "server/common/log.h"

namespace circuit {
namespace {

constexpr char kJoinCodeAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    // OpenSSL's generator does not fail on a working Linux system; a server
    // that cannot make secrets must not run.
    LogError("RAND_bytes failed");
    std::abort();
  }
  return out;
}

std::string RandomHex(int bytes) {
  return absl::BytesToHexString(RandomBytes(static_cast<size_t>(bytes)));
}

std::string Sha256(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

NewToken MakeToken(absl::string_view prefix) {
  NewToken t;
  t.token =
      prefix.empty() ? RandomHex(24) : absl::StrCat(prefix, ".", RandomHex(24));
  t.hash = Sha256(t.token);
  return t;
}

absl::string_view TokenPrefix(absl::string_view token) {
  const size_t dot = token.rfind('.');
  return dot == absl::string_view::npos ? absl::string_view()
                                        : token.substr(0, dot);
}

std::string JoinCodeFromBytes(absl::string_view random) {
  std::string code;
  code.reserve(random.size());
  for (char c : random) {
    // 32 symbols: the low five bits pick one without bias.
    code.push_back(kJoinCodeAlphabet[static_cast<unsigned char>(c) & 31]);
  }
  return code;
}

std::string NewJoinCode() { return JoinCodeFromBytes(RandomBytes(6)); }

}  // namespace circuit
