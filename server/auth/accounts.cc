#include "server/auth/accounts.h"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/files.h"
#include "server/common/secrets.h"
#include "server/engine/text.h"

namespace circuit {
namespace {

constexpr char kIssuer[] = "circuitd";
constexpr size_t kMaxCredential = 4096;
constexpr size_t kSigningKeyBytes = 32;
constexpr char kRoleAdmin[] = "admin";
constexpr char kRoleInstructor[] = "instructor";
constexpr char kRoleClass[] = "class";

bool ValidStudioId(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_';
  });
}

const char* RoleName(v1::AccountRole role) {
  return role == v1::ACCOUNT_ROLE_ADMIN ? kRoleAdmin : kRoleInstructor;
}

// The JWT's signature as the token carries it (base64url, no padding).
std::string Hs256Signature(const std::string& secret,
                           absl::string_view signed_part) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()),
       signed_part.size(), mac, &mac_size);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(mac), mac_size));
}

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("credential refused: ", why));
}

// The generation of an account credential, as a console credential names
// it: the start of its hash, hex.
std::string Generation(const std::string& credential_sha256) {
  return absl::BytesToHexString(credential_sha256.substr(0, 8));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Accounts>> Accounts::Open(const Options& options,
                                                         const Clock* clock) {
  std::shared_ptr<Document> accounts = options.accounts_document;
  if (accounts == nullptr && !options.store_path.empty()) {
    accounts = std::make_shared<FileDocument>(options.store_path);
  }
  std::shared_ptr<Document> keys = options.keys_document;
  if (keys == nullptr && !options.keys_dir.empty()) {
    if (absl::Status dir = MakePrivateDirectory(options.keys_dir); !dir.ok()) {
      return dir;
    }
    keys = std::make_shared<FileDocument>(options.keys_dir + "/signing.binpb");
  }
  std::unique_ptr<Accounts> result(
      new Accounts(options, clock, std::move(accounts), std::move(keys)));
  absl::MutexLock lock(&result->mu_);
  if (absl::Status s = result->LoadAccountsLocked(); !s.ok()) return s;
  if (absl::Status s = result->LoadKeysLocked(); !s.ok()) return s;
  if (result->keys_.keys().empty()) {
    absl::Status added = result->AddKeyLocked();
    // Another node of the cluster made the first key at the same time: its
    // key is the cluster's.
    if (!added.ok() &&
        !(absl::IsAborted(added) && !result->keys_.keys().empty())) {
      return added;
    }
  }
  return result;
}

Accounts::Accounts(const Options& options, const Clock* clock,
                   std::shared_ptr<Document> accounts_document,
                   std::shared_ptr<Document> keys_document)
    : options_(options),
      clock_(clock),
      accounts_document_(std::move(accounts_document)),
      keys_document_(std::move(keys_document)) {}

absl::Status Accounts::LoadAccountsLocked() {
  if (accounts_document_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::optional<std::string>> bytes = accounts_document_->Load();
  if (!bytes.ok()) return bytes.status();
  internal::StoredAccounts accounts;
  if (bytes->has_value() && !accounts.ParseFromString(**bytes)) {
    return absl::DataLossError(
        absl::StrCat(options_.store_path, " is not a list of accounts"));
  }
  accounts_ = std::move(accounts);
  return absl::OkStatus();
}

absl::Status Accounts::LoadKeysLocked() {
  if (keys_document_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::optional<std::string>> bytes = keys_document_->Load();
  if (!bytes.ok()) return bytes.status();
  internal::StoredSigningKeys keys;
  if (bytes->has_value() && !keys.ParseFromString(**bytes)) {
    return absl::DataLossError(
        absl::StrCat(options_.keys_dir, " has no list of signing keys"));
  }
  keys_ = std::move(keys);
  return absl::OkStatus();
}

void Accounts::Watch(std::function<void()> changed) {
  if (accounts_document_ != nullptr) {
    accounts_document_->Watch([this, changed](const std::string&) {
      {
        absl::MutexLock lock(&mu_);
        if (!LoadAccountsLocked().ok()) return;  // next change, or poll
      }
      if (changed) changed();
    });
  }
  if (keys_document_ != nullptr) {
    keys_document_->Watch([this, changed](const std::string&) {
      {
        absl::MutexLock lock(&mu_);
        if (!LoadKeysLocked().ok()) return;
      }
      if (changed) changed();
    });
  }
}

absl::Status Accounts::AddKeyLocked() {
  const internal::StoredSigningKeys before = keys_;
  internal::StoredSigningKey* key = keys_.add_keys();
  key->mutable_key()->set_key_id(
      absl::StrCat("k", absl::BytesToHexString(RandomBytes(4))));
  key->mutable_key()->set_created_unix_ms(clock_->NowUnixMs());
  key->set_secret(RandomBytes(kSigningKeyBytes));
  for (internal::StoredSigningKey& k : *keys_.mutable_keys()) {
    k.mutable_key()->set_signing(&k == key);
  }
  return CommitKeysLocked(before);
}

absl::Status Accounts::CommitKeysLocked(
    const internal::StoredSigningKeys& before) {
  if (keys_document_ == nullptr) return absl::OkStatus();
  absl::Status saved = keys_document_->Save(keys_.SerializeAsString());
  if (saved.ok()) return saved;
  keys_ = before;
  if (absl::IsAborted(saved)) LoadKeysLocked().IgnoreError();
  return saved;
}

absl::Status Accounts::CommitAccountsLocked(
    const internal::StoredAccounts& before) {
  if (accounts_document_ == nullptr) return absl::OkStatus();
  absl::Status saved = accounts_document_->Save(accounts_.SerializeAsString());
  if (saved.ok()) return saved;
  accounts_ = before;
  if (absl::IsAborted(saved)) LoadAccountsLocked().IgnoreError();
  return saved;
}

absl::StatusOr<std::string> Accounts::SignLocked(const Claims& claims) const {
  const internal::StoredSigningKey& key = keys_.keys(keys_.keys_size() - 1);
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("cannot make a JWT");
  JwtPtr jwt(raw);
  const absl::Time now = clock_->Now();
  const std::string id = absl::BytesToHexString(RandomBytes(12));
  bool ok =
      jwt_add_header(jwt.get(), "kid", key.key().key_id().c_str()) == 0 &&
      jwt_add_grant(jwt.get(), "iss", kIssuer) == 0 &&
      jwt_add_grant(jwt.get(), "sub", claims.subject.c_str()) == 0 &&
      jwt_add_grant(jwt.get(), "role", claims.role.c_str()) == 0 &&
      jwt_add_grant(jwt.get(), "studio", claims.studio.c_str()) == 0 &&
      jwt_add_grant(jwt.get(), "jti", id.c_str()) == 0 &&
      jwt_add_grant_int(jwt.get(), "iat", absl::ToUnixSeconds(now)) == 0 &&
      jwt_add_grant_int(jwt.get(), "exp",
                        absl::ToUnixSeconds(claims.expires)) == 0;
  if (ok && !claims.class_id.empty()) {
    ok = jwt_add_grant(jwt.get(), "class", claims.class_id.c_str()) == 0;
  }
  if (ok && !claims.generation.empty()) {
    ok = jwt_add_grant(jwt.get(), "gen", claims.generation.c_str()) == 0;
  }
  if (ok) {
    ok =
        jwt_set_alg(jwt.get(), JWT_ALG_HS256,
                    reinterpret_cast<const unsigned char*>(key.secret().data()),
                    static_cast<int>(key.secret().size())) == 0;
  }
  char* encoded = ok ? jwt_encode_str(jwt.get()) : nullptr;
  if (encoded == nullptr) return absl::InternalError("cannot sign a JWT");
  std::string token(encoded);
  std::free(encoded);
  return token;
}

absl::StatusOr<absl::Duration> Accounts::TtlFrom(int64_t ttl_seconds,
                                                 absl::Duration default_ttl,
                                                 absl::Duration max_ttl) const {
  if (ttl_seconds == 0) return default_ttl;
  const absl::Duration ttl = absl::Seconds(ttl_seconds);
  if (ttl_seconds < 0 || ttl > max_ttl) {
    return absl::InvalidArgumentError(
        absl::StrCat("a credential may last 1 s to ",
                     absl::ToInt64Seconds(max_ttl), " s, not ", ttl_seconds));
  }
  return ttl;
}

internal::StoredAccount* Accounts::FindLocked(const std::string& account_id) {
  for (internal::StoredAccount& a : *accounts_.mutable_accounts()) {
    if (a.account().account_id() == account_id) return &a;
  }
  return nullptr;
}

absl::Status Accounts::IssueLocked(internal::StoredAccount* stored,
                                   absl::Duration ttl,
                                   v1::AccountCredential* out) {
  const v1::Account& account = stored->account();
  const absl::Time expires = clock_->Now() + ttl;
  absl::StatusOr<std::string> token =
      SignLocked({account.account_id(), RoleName(account.role()),
                  account.studio_id(), "", expires, ""});
  if (!token.ok()) return token.status();
  stored->set_credential_sha256(Sha256(*token));
  stored->mutable_account()->set_credential_expires_unix_ms(
      absl::ToUnixMillis(expires));
  *out->mutable_account() = stored->account();
  out->set_credential(*std::move(token));
  return absl::OkStatus();
}

absl::StatusOr<v1::AccountCredential> Accounts::Add(
    const v1::AddAccountRequest& add) {
  if (absl::Status name = engine::CheckText("name", add.name(), 1, 64);
      !name.ok()) {
    return name;
  }
  if (add.role() != v1::ACCOUNT_ROLE_ADMIN &&
      add.role() != v1::ACCOUNT_ROLE_INSTRUCTOR) {
    return absl::InvalidArgumentError(
        "role must be ACCOUNT_ROLE_INSTRUCTOR or ACCOUNT_ROLE_ADMIN");
  }
  const std::string studio =
      add.studio_id().empty() ? kDefaultStudio : add.studio_id();
  if (!ValidStudioId(studio)) {
    return absl::InvalidArgumentError(
        "studio_id must be 1 to 32 letters, digits, '-' or '_'");
  }
  absl::StatusOr<absl::Duration> ttl =
      TtlFrom(add.credential_ttl_seconds(), options_.default_credential_ttl,
              options_.max_credential_ttl);
  if (!ttl.ok()) return ttl.status();
  absl::MutexLock lock(&mu_);
  if (static_cast<size_t>(accounts_.accounts_size()) >= options_.max_accounts) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this server holds at most ", options_.max_accounts,
                     " accounts; revoke unused ones"));
  }
  const int64_t number = std::max<int64_t>(accounts_.next_id(), 1);
  internal::StoredAccount stored;
  v1::Account* account = stored.mutable_account();
  account->set_account_id(absl::StrCat("a", number));
  account->set_name(add.name());
  account->set_role(add.role());
  account->set_studio_id(studio);
  account->set_created_unix_ms(clock_->NowUnixMs());
  v1::AccountCredential credential;
  if (absl::Status issued = IssueLocked(&stored, *ttl, &credential);
      !issued.ok()) {
    return issued;
  }
  const internal::StoredAccounts before = accounts_;
  *accounts_.add_accounts() = std::move(stored);
  accounts_.set_next_id(number + 1);
  if (absl::Status saved = CommitAccountsLocked(before); !saved.ok()) {
    return saved;
  }
  return credential;
}

std::vector<v1::Account> Accounts::List(const std::string& studio) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Account> out;
  for (const internal::StoredAccount& a : accounts_.accounts()) {
    if (studio.empty() || a.account().studio_id() == studio) {
      out.push_back(a.account());
    }
  }
  return out;
}

absl::StatusOr<v1::Account> Accounts::Find(
    const std::string& account_id) const {
  absl::MutexLock lock(&mu_);
  for (const internal::StoredAccount& a : accounts_.accounts()) {
    if (a.account().account_id() == account_id) return a.account();
  }
  return absl::NotFoundError(
      absl::StrCat("no account with id \"", account_id.substr(0, 64), "\""));
}

absl::StatusOr<v1::Account> Accounts::Revoke(const std::string& account_id) {
  absl::MutexLock lock(&mu_);
  internal::StoredAccount* stored = FindLocked(account_id);
  if (stored == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no account with id \"", account_id.substr(0, 64), "\""));
  }
  if (stored->account().revoked_unix_ms() != 0) return stored->account();
  const internal::StoredAccounts before = accounts_;
  stored->mutable_account()->set_revoked_unix_ms(clock_->NowUnixMs());
  stored->clear_credential_sha256();
  const v1::Account revoked = stored->account();
  if (absl::Status saved = CommitAccountsLocked(before); !saved.ok()) {
    return saved;
  }
  return revoked;
}

absl::StatusOr<v1::AccountCredential> Accounts::Reissue(
    const std::string& account_id, int64_t ttl_seconds) {
  absl::StatusOr<absl::Duration> ttl =
      TtlFrom(ttl_seconds, options_.default_credential_ttl,
              options_.max_credential_ttl);
  if (!ttl.ok()) return ttl.status();
  absl::MutexLock lock(&mu_);
  internal::StoredAccount* stored = FindLocked(account_id);
  if (stored == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no account with id \"", account_id.substr(0, 64), "\""));
  }
  if (stored->account().revoked_unix_ms() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("account ", account_id, " is revoked"));
  }
  const internal::StoredAccounts before = accounts_;
  v1::AccountCredential credential;
  if (absl::Status issued = IssueLocked(stored, *ttl, &credential);
      !issued.ok()) {
    accounts_ = before;
    return issued;
  }
  if (absl::Status saved = CommitAccountsLocked(before); !saved.ok()) {
    return saved;
  }
  return credential;
}

absl::StatusOr<v1::ClassCredential> Accounts::IssueClassCredential(
    const Principal& issuer, const std::string& class_id,
    const std::string& studio, int64_t ttl_seconds) {
  absl::StatusOr<absl::Duration> ttl =
      TtlFrom(ttl_seconds, options_.default_class_ttl, options_.max_class_ttl);
  if (!ttl.ok()) return ttl.status();
  const absl::Time expires = clock_->Now() + *ttl;
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> token =
      SignLocked({issuer.subject, kRoleClass, studio, class_id, expires, ""});
  if (!token.ok()) return token.status();
  v1::ClassCredential credential;
  credential.set_class_id(class_id);
  credential.set_credential(*std::move(token));
  credential.set_expires_unix_ms(absl::ToUnixMillis(expires));
  return credential;
}

absl::StatusOr<v1::SignInResponse> Accounts::IssueConsoleCredential(
    const std::string& account_id, absl::Duration ttl) {
  const absl::Time expires = clock_->Now() + ttl;
  absl::MutexLock lock(&mu_);
  const internal::StoredAccount* stored = FindLocked(account_id);
  if (stored == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no account with id \"", account_id.substr(0, 64), "\""));
  }
  if (stored->account().revoked_unix_ms() != 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("account ", account_id, " is revoked"));
  }
  const v1::Account& account = stored->account();
  absl::StatusOr<std::string> token = SignLocked(
      {account.account_id(), RoleName(account.role()), account.studio_id(), "",
       expires, Generation(stored->credential_sha256())});
  if (!token.ok()) return token.status();
  v1::SignInResponse response;
  response.set_credential(*std::move(token));
  *response.mutable_account() = account;
  response.set_expires_unix_ms(absl::ToUnixMillis(expires));
  return response;
}

absl::StatusOr<v1::SigningKeys> Accounts::RotateSigningKey() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status added = AddKeyLocked(); !added.ok()) return added;
  }
  return SigningKeys();
}

absl::StatusOr<v1::SigningKeys> Accounts::RetireSigningKey(
    const std::string& key_id) {
  {
    absl::MutexLock lock(&mu_);
    auto* keys = keys_.mutable_keys();
    auto it = std::find_if(keys->begin(), keys->end(), [&](const auto& k) {
      return k.key().key_id() == key_id;
    });
    if (it == keys->end()) {
      return absl::NotFoundError(absl::StrCat("no signing key with id \"",
                                              key_id.substr(0, 64), "\""));
    }
    if (it->key().signing()) {
      return absl::FailedPreconditionError(
          absl::StrCat(key_id,
                       " is the key that signs now; rotate to a new key "
                       "before retiring it"));
    }
    const internal::StoredSigningKeys before = keys_;
    keys->erase(it);
    if (absl::Status saved = CommitKeysLocked(before); !saved.ok()) {
      return saved;
    }
  }
  return SigningKeys();
}

v1::SigningKeys Accounts::SigningKeys() const {
  absl::MutexLock lock(&mu_);
  v1::SigningKeys out;
  for (const internal::StoredSigningKey& k : keys_.keys()) {
    *out.add_keys() = k.key();
  }
  return out;
}

bool Accounts::LooksLikeCredential(const std::string& token) {
  return token.size() <= kMaxCredential &&
         std::count(token.begin(), token.end(), '.') == 2;
}

absl::StatusOr<Principal> Accounts::Verify(const std::string& token) const {
  if (!LooksLikeCredential(token)) return Unauthenticated("not a credential");
  // The header names the key; nothing in it is trusted before the
  // signature is checked with that key.
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), nullptr, 0) != 0 || raw == nullptr) {
    return Unauthenticated("malformed");
  }
  // (Decoded without a key, libjwt reports no algorithm: the algorithm is
  // checked below, after the signature.)
  JwtPtr unverified(raw);
  const char* kid = jwt_get_header(unverified.get(), "kid");
  if (kid == nullptr) return Unauthenticated("no key id");
  const absl::string_view signed_part =
      absl::string_view(token).substr(0, token.rfind('.'));
  const absl::string_view signature =
      absl::string_view(token).substr(token.rfind('.') + 1);

  {
    absl::MutexLock lock(&mu_);
    const internal::StoredSigningKey* key = nullptr;
    for (const internal::StoredSigningKey& k : keys_.keys()) {
      if (k.key().key_id() == kid) key = &k;
    }
    if (key == nullptr) {
      return Unauthenticated(
          "signed with a key this server no longer has (retired?); ask for a "
          "new credential");
    }
    // Compared in constant time, before libjwt parses it with the key.
    const std::string expected = Hs256Signature(key->secret(), signed_part);
    if (expected.size() != signature.size() ||
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) !=
            0) {
      return Unauthenticated("the signature does not verify");
    }
    raw = nullptr;
    if (jwt_decode(&raw, token.c_str(),
                   reinterpret_cast<const unsigned char*>(key->secret().data()),
                   static_cast<int>(key->secret().size())) != 0 ||
        raw == nullptr) {
      return Unauthenticated("the signature does not verify");
    }
  }
  JwtPtr jwt(raw);
  auto grant = [&](const char* name) -> std::string {
    const char* value = jwt_get_grant(jwt.get(), name);
    return value == nullptr ? "" : value;
  };
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) {
    return Unauthenticated("not signed with HS256");
  }
  if (grant("iss") != kIssuer) {
    return Unauthenticated("not issued by circuitd");
  }
  const long expires = jwt_get_grant_int(jwt.get(), "exp");  // NOLINT
  if (expires <= 0 || absl::FromUnixSeconds(expires) <= clock_->Now()) {
    return Unauthenticated(absl::StrCat(
        "expired at ",
        absl::FormatTime(
            absl::FromUnixSeconds(std::max<long>(expires, 0))),  // NOLINT
        "; ask for a new one"));
  }
  Principal who;
  who.subject = grant("sub");
  who.studio = grant("studio");
  const std::string role = grant("role");
  if (who.subject.empty() || who.studio.empty()) {
    return Unauthenticated("no subject or studio");
  }
  if (role == kRoleClass) {
    who.role = Principal::Role::kClass;
    who.class_id = grant("class");
    if (who.class_id.empty()) return Unauthenticated("no class");
  } else if (role == kRoleAdmin) {
    who.role = Principal::Role::kAdmin;
  } else if (role == kRoleInstructor) {
    who.role = Principal::Role::kInstructor;
  } else {
    return Unauthenticated("unknown role");
  }
  // Class credentials the bootstrap key issued have no account behind them;
  // every other credential's account must still be there and unrevoked, and
  // an account credential must be its current one.
  if (who.role == Principal::Role::kClass && who.subject == "bootstrap") {
    return who;
  }
  absl::MutexLock lock(&mu_);
  const internal::StoredAccount* stored = nullptr;
  for (const internal::StoredAccount& a : accounts_.accounts()) {
    if (a.account().account_id() == who.subject) stored = &a;
  }
  if (stored == nullptr || stored->account().revoked_unix_ms() != 0) {
    return Unauthenticated("its account is revoked");
  }
  const std::string generation = grant("gen");
  if (who.role != Principal::Role::kClass && !generation.empty()) {
    // A console credential: signed, so its generation is what the server
    // wrote; it stands until the account credential is reissued.
    if (generation != Generation(stored->credential_sha256())) {
      return Unauthenticated(
          "signed out: the account's credential was reissued; sign in again");
    }
  } else if (who.role != Principal::Role::kClass) {
    const std::string hash = Sha256(token);
    const std::string& current = stored->credential_sha256();
    if (hash.size() != current.size() ||
        CRYPTO_memcmp(hash.data(), current.data(), hash.size()) != 0) {
      return Unauthenticated("a newer credential replaced it");
    }
  }
  return who;
}

}  // namespace circuit
