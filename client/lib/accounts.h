#ifndef CIRCUIT_CLIENT_LIB_ACCOUNTS_H_
#define CIRCUIT_CLIENT_LIB_ACCOUNTS_H_

// Instructor and admin accounts, class credentials and signing keys. Each is
// one unary call with the connection's deadline, made with `key`: the
// bootstrap instructor key or an account credential (UNAUTHENTICATED or
// PERMISSION_DENIED, saying why, otherwise). Thread-safe, as Connection is.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "circuit/v1/service.pb.h"
#include "client/lib/connection.h"

namespace circuit::client {

// Adds an account; its credential is in the answer only.
absl::StatusOr<v1::AccountCredential> AddAccount(
    const Connection& connection, const std::string& key,
    const v1::AddAccountRequest& add);

// The accounts `key` administers, oldest first.
absl::StatusOr<std::vector<v1::Account>> ListAccounts(
    const Connection& connection, const std::string& key);

absl::StatusOr<v1::Account> RevokeAccount(const Connection& connection,
                                          const std::string& key,
                                          const std::string& account_id);

// A new credential for the account; the old one stops working.
absl::StatusOr<v1::AccountCredential> ReissueAccountCredential(
    const Connection& connection, const std::string& key,
    const std::string& account_id, int64_t ttl_seconds);

// A credential that opens class `class_id` only; 0: the server's default
// lifetime.
absl::StatusOr<v1::ClassCredential> IssueClassCredential(
    const Connection& connection, const std::string& key,
    const std::string& class_id, int64_t ttl_seconds);

// A one-time code (and link) for signing the account in to the browser
// console; 0: the server's default lifetime (10 minutes).
absl::StatusOr<v1::SignInCode> IssueSignInCode(const Connection& connection,
                                               const std::string& key,
                                               const std::string& account_id,
                                               int64_t ttl_seconds);

absl::StatusOr<v1::SigningKeys> RotateSigningKey(const Connection& connection,
                                                 const std::string& key);

absl::StatusOr<v1::SigningKeys> RetireSigningKey(const Connection& connection,
                                                 const std::string& key,
                                                 const std::string& key_id);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_ACCOUNTS_H_
