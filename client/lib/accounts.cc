#include "client/lib/accounts.h"

#include <memory>

#include "grpcpp/client_context.h"

namespace circuit::client {

absl::StatusOr<v1::AccountCredential> AddAccount(
    const Connection& connection, const std::string& key,
    const v1::AddAccountRequest& add) {
  return CallUnary<v1::AddAccountRequest, v1::AccountCredential>(
      connection, key, &v1::CircuitService::Stub::AddAccount, add);
}

absl::StatusOr<std::vector<v1::Account>> ListAccounts(
    const Connection& connection, const std::string& key) {
  absl::StatusOr<v1::ListAccountsResponse> response =
      CallUnary<v1::ListAccountsRequest, v1::ListAccountsResponse>(
          connection, key, &v1::CircuitService::Stub::ListAccounts,
          v1::ListAccountsRequest());
  if (!response.ok()) return response.status();
  return std::vector<v1::Account>(response->accounts().begin(),
                                  response->accounts().end());
}

absl::StatusOr<v1::Account> RevokeAccount(const Connection& connection,
                                          const std::string& key,
                                          const std::string& account_id) {
  v1::RevokeAccountRequest request;
  request.set_account_id(account_id);
  return CallUnary<v1::RevokeAccountRequest, v1::Account>(
      connection, key, &v1::CircuitService::Stub::RevokeAccount, request);
}

absl::StatusOr<v1::AccountCredential> ReissueAccountCredential(
    const Connection& connection, const std::string& key,
    const std::string& account_id, int64_t ttl_seconds) {
  v1::ReissueAccountCredentialRequest request;
  request.set_account_id(account_id);
  request.set_credential_ttl_seconds(ttl_seconds);
  return CallUnary<v1::ReissueAccountCredentialRequest, v1::AccountCredential>(
      connection, key, &v1::CircuitService::Stub::ReissueAccountCredential,
      request);
}

absl::StatusOr<v1::ClassCredential> IssueClassCredential(
    const Connection& connection, const std::string& key,
    const std::string& class_id, int64_t ttl_seconds) {
  v1::IssueClassCredentialRequest request;
  request.set_class_id(class_id);
  request.set_ttl_seconds(ttl_seconds);
  return CallUnary<v1::IssueClassCredentialRequest, v1::ClassCredential>(
      connection, key, &v1::CircuitService::Stub::IssueClassCredential,
      request);
}

absl::StatusOr<v1::SignInCode> IssueSignInCode(const Connection& connection,
                                               const std::string& key,
                                               const std::string& account_id,
                                               int64_t ttl_seconds) {
  v1::IssueSignInCodeRequest request;
  request.set_account_id(account_id);
  request.set_ttl_seconds(ttl_seconds);
  return CallUnary<v1::IssueSignInCodeRequest, v1::SignInCode>(
      connection, key, &v1::CircuitService::Stub::IssueSignInCode, request);
}

absl::StatusOr<v1::SigningKeys> RotateSigningKey(const Connection& connection,
                                                 const std::string& key) {
  return CallUnary<v1::RotateSigningKeyRequest, v1::SigningKeys>(
      connection, key, &v1::CircuitService::Stub::RotateSigningKey,
      v1::RotateSigningKeyRequest());
}

absl::StatusOr<v1::SigningKeys> RetireSigningKey(const Connection& connection,
                                                 const std::string& key,
                                                 const std::string& key_id) {
  v1::RetireSigningKeyRequest request;
  request.set_key_id(key_id);
  return CallUnary<v1::RetireSigningKeyRequest, v1::SigningKeys>(
      connection, key, &v1::CircuitService::Stub::RetireSigningKey, request);
}

}  // namespace circuit::client
