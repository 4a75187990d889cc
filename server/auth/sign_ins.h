#ifndef CIRCUIT_SERVER_AUTH_SIGN_INS_H_
#define CIRCUIT_SERVER_AUTH_SIGN_INS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/v1/service.pb.h"
#include "server/auth/access.h"
#include "server/auth/accounts.h"
#include "server/auth/principal.h"
#include "server/common/clock.h"
#include "server/common/document.h"

namespace circuit {

// Signing in to the browser console: one-time sign-in codes that an admin
// hands to an instructor, and the console credentials that signing in
// answers (Accounts::IssueConsoleCredential).
//
// A code is ten random characters (50 bits) that works once and for
// minutes; only its hash is kept, in memory: a restart forgets every code,
// which costs an admin one more `circuit admin sign-in`, and keeps no
// sign-in secret on disk. On a cluster the codes waiting are a document
// every node shares (`Options::document`, read before each use and
// written before each answer), so a code works on any node. Guessing is
// bounded by the doors' per-address rate limit. Thread-safe.
class SignIns {
 public:
  struct Options {
    absl::Duration default_code_ttl = absl::Minutes(10);
    absl::Duration max_code_ttl = absl::Minutes(60);
    absl::Duration console_ttl = absl::Hours(12);
    // Codes waiting to be used, at most; beyond it issuing answers
    // RESOURCE_EXHAUSTED until some expire.
    size_t max_pending = 10'000;
    // The console's address without a path ("https://studio.example:8080"),
    // for SignInCode.console_url; empty: none (see SetConsoleBaseUrl).
    std::string console_base_url;
    // Where the codes waiting are kept (a cluster's shared document); null:
    // in memory only.
    std::shared_ptr<Document> document;
  };

  // `accounts` and `clock` must outlive this.
  SignIns(Accounts* accounts, const Clock* clock, Options options);

  // A code for `request.account_id`, if `who` may manage that account (its
  // studio's admins, the bootstrap key). NOT_FOUND for an unknown account,
  // FAILED_PRECONDITION for a revoked one, INVALID_ARGUMENT for a bad ttl.
  absl::StatusOr<v1::SignInCode> Issue(
      const Principal& who, const v1::IssueSignInCodeRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Signs in with `request.sign_in_code`, which is used up whatever the
  // outcome; or, when it is empty, with `bearer` (an account credential, a
  // console credential, or the bootstrap key). UNAUTHENTICATED for a code
  // that is unknown, expired or used, or a credential that does not verify;
  // PERMISSION_DENIED for a kiosk or class credential.
  absl::StatusOr<v1::SignInResponse> SignIn(const v1::SignInRequest& request,
                                            const std::string& bearer,
                                            const AccessKeys& keys)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Who `bearer` signs in as, without a new credential (the page asks when
  // it opens). The errors of SignIn.
  absl::StatusOr<v1::SignInResponse> WhoIs(const std::string& bearer,
                                           const AccessKeys& keys) const;

  // Where the console is, once the HTTP door has its address: codes issued
  // from now on carry it in console_url.
  void SetConsoleBaseUrl(std::string url) ABSL_LOCKS_EXCLUDED(mu_);

  // "ABCDE-FGHJK", "abcdefghjk" and " ABCDE FGHJK " are the same code.
  static std::string NormalizeCode(absl::string_view code);

 private:
  struct Pending {
    std::string account_id;
    absl::Time expires;
  };
  void ForgetExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes a change to the codes waiting: with a document, on what it keeps
  // now, then kept (made again on the newer codes when another node changed
  // them at the same time). `change` may run more than once; its error is
  // returned and nothing is kept.
  absl::Status ChangeCodes(absl::FunctionRef<absl::Status()> change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Who `bearer` is, if it may use the console.
  absl::StatusOr<Principal> ConsoleUser(const std::string& bearer,
                                        const AccessKeys& keys) const;

  Accounts* const accounts_;
  const Clock* const clock_;
  const Options options_;
  absl::Mutex mu_;
  std::string console_base_url_ ABSL_GUARDED_BY(mu_);
  // By the code's hash.
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_SIGN_INS_H_
