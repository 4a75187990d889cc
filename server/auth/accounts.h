#ifndef CIRCUIT_SERVER_AUTH_ACCOUNTS_H_
#define CIRCUIT_SERVER_AUTH_ACCOUNTS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/auth/principal.h"
#include "server/common/clock.h"
#include "server/common/document.h"

namespace circuit {

// Instructor and admin accounts, and the keys that sign their credentials.
//
// A credential is a JWT (HS256, signed with libjwt) whose header names the
// signing key (`kid`) and whose claims carry the subject, role, studio, the
// class for a class credential, and expiry. The newest signing key signs;
// older ones still verify until retired, so rotating the key logs nobody
// out. An account credential is also checked against the account's stored
// hash, so reissuing one (or revoking the account) ends the old one at once.
// Accounts are kept in `store_path`, signing keys in `keys_dir` (mode 0700,
// the file 0600), each written atomically before any answer; with both empty
// everything is in memory (tests). On a cluster both are Documents every
// node shares (server/cluster/shared_state.h): what one node changes, every
// node verifies by within moments (Watch). Thread-safe.
class Accounts {
 public:
  struct Options {
    std::string store_path;
    std::string keys_dir;
    absl::Duration default_credential_ttl = absl::Hours(24 * 90);
    absl::Duration max_credential_ttl = absl::Hours(24 * 400);
    absl::Duration default_class_ttl = absl::Hours(12);
    absl::Duration max_class_ttl = absl::Hours(24);
    size_t max_accounts = 10'000;
    // Where accounts and signing keys are kept instead of the files (a
    // cluster's shared documents); null: the files.
    std::shared_ptr<Document> accounts_document;
    std::shared_ptr<Document> keys_document;
  };

  // Loads what is stored; creates the first signing key when there is none.
  static absl::StatusOr<std::unique_ptr<Accounts>> Open(const Options& options,
                                                        const Clock* clock);

  // A new account and its credential. INVALID_ARGUMENT for a bad name,
  // role, studio or ttl.
  absl::StatusOr<v1::AccountCredential> Add(const v1::AddAccountRequest& add)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every account of `studio` (every account when empty), oldest first.
  std::vector<v1::Account> List(const std::string& studio) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The account, or NOT_FOUND.
  absl::StatusOr<v1::Account> Find(const std::string& account_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Account> Revoke(const std::string& account_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A new credential for the account; the old one stops working.
  absl::StatusOr<v1::AccountCredential> Reissue(const std::string& account_id,
                                                int64_t ttl_seconds)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A credential for one class of `studio`, issued by `issuer`.
  absl::StatusOr<v1::ClassCredential> IssueClassCredential(
      const Principal& issuer, const std::string& class_id,
      const std::string& studio, int64_t ttl_seconds) ABSL_LOCKS_EXCLUDED(mu_);

  // A console credential for the account (signing in to the browser
  // console, server/auth/sign_ins.h): what its account credential opens, for
  // `ttl`, and ended, like the account credential, by the account's revoke
  // or reissue. UNAUTHENTICATED for a revoked account; NOT_FOUND for an
  // unknown one.
  absl::StatusOr<v1::SignInResponse> IssueConsoleCredential(
      const std::string& account_id, absl::Duration ttl)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Signs with a new key from now on.
  absl::StatusOr<v1::SigningKeys> RotateSigningKey() ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets an older key: what it signed stops working.
  absl::StatusOr<v1::SigningKeys> RetireSigningKey(const std::string& key_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  v1::SigningKeys SigningKeys() const ABSL_LOCKS_EXCLUDED(mu_);

  // Takes what other nodes of a cluster keep from now on (the documents'
  // Watch): each change replaces this node's accounts or keys, then
  // `changed` runs (on the documents' thread), e.g. to end the streams of
  // credentials that stopped verifying. Once, after Open.
  void Watch(std::function<void()> changed) ABSL_LOCKS_EXCLUDED(mu_);

  // Whether `token` looks like a credential of this kind (a JWT).
  static bool LooksLikeCredential(const std::string& token);
  // Who the credential is. UNAUTHENTICATED, saying why, when it is
  // malformed, signed by an unknown or retired key, expired, or its account
  // is revoked or has a newer credential.
  absl::StatusOr<Principal> Verify(const std::string& token) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Accounts(const Options& options, const Clock* clock,
           std::shared_ptr<Document> accounts_document,
           std::shared_ptr<Document> keys_document);
  // Reads what the documents keep into accounts_ and keys_.
  absl::Status LoadAccountsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadKeysLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Claims {
    std::string subject;
    std::string role;
    std::string studio;
    std::string class_id;
    absl::Time expires;
    // A console credential: the account credential it stands for (the start
    // of its hash), so that a reissue ends it too.
    std::string generation;
  };
  absl::StatusOr<std::string> SignLocked(const Claims& claims) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<absl::Duration> TtlFrom(int64_t ttl_seconds,
                                         absl::Duration default_ttl,
                                         absl::Duration max_ttl) const;
  internal::StoredAccount* FindLocked(const std::string& account_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives `stored` a fresh credential, into `out`.
  absl::Status IssueLocked(internal::StoredAccount* stored, absl::Duration ttl,
                           v1::AccountCredential* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps accounts_ (keys_); when that fails, they are `before` again, or
  // what another node kept when it changed them at the same time.
  absl::Status CommitAccountsLocked(const internal::StoredAccounts& before)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CommitKeysLocked(const internal::StoredSigningKeys& before)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddKeyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Clock* const clock_;
  // Null: kept in memory only.
  const std::shared_ptr<Document> accounts_document_;
  const std::shared_ptr<Document> keys_document_;
  mutable absl::Mutex mu_;
  internal::StoredAccounts accounts_ ABSL_GUARDED_BY(mu_);
  internal::StoredSigningKeys keys_ ABSL_GUARDED_BY(mu_);  // newest last
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_ACCOUNTS_H_
