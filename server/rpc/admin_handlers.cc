// The admin methods of CircuitServiceImpl: kiosks, accounts and signing
// keys.

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/quote.h"
#include "server/rpc/auth.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/grpc_status.h"

namespace circuit {
namespace {

// Kiosks paired before studios existed belong to the default one.
std::string KioskStudio(const v1::Kiosk& kiosk) {
  return kiosk.studio_id().empty() ? kDefaultStudio : kiosk.studio_id();
}

}  // namespace

void CircuitServiceImpl::ServeApproveKioskPairing(
    grpc::ServerContext* context, const v1::ApproveKioskPairingRequest& request,
    UnaryReply<v1::Kiosk> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageKiosks(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  if (options_.keys.kiosks == nullptr) {
    return reply.Fail(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "kiosk pairing is off"));
  }
  absl::StatusOr<v1::Kiosk> kiosk = options_.keys.kiosks->Approve(
      request.pairing_code(), request.name(), StudioOf(who));
  if (!kiosk.ok()) return reply.Fail(ToGrpcStatus(kiosk.status()));
  reply.Ok(*kiosk);
}

void CircuitServiceImpl::ServeListKiosks(
    grpc::ServerContext* context, const v1::ListKiosksRequest&,
    UnaryReply<v1::ListKiosksResponse> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageKiosks(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  v1::ListKiosksResponse response;
  if (options_.keys.kiosks != nullptr) {
    for (v1::Kiosk& kiosk : options_.keys.kiosks->List()) {
      if (MayManageKiosks(who, KioskStudio(kiosk)).ok()) {
        *response.add_kiosks() = std::move(kiosk);
      }
    }
  }
  reply.Ok(response);
}

void CircuitServiceImpl::ServeRevokeKiosk(grpc::ServerContext* context,
                                          const v1::RevokeKioskRequest& request,
                                          UnaryReply<v1::Kiosk> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageKiosks(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  const grpc::Status unknown(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("no kiosk with id ", QuoteForError(request.kiosk_id())));
  if (options_.keys.kiosks == nullptr) return reply.Fail(unknown);
  for (const v1::Kiosk& kiosk : options_.keys.kiosks->List()) {
    if (kiosk.kiosk_id() == request.kiosk_id()) {
      allowed = ToGrpcStatus(MayManageKiosks(who, KioskStudio(kiosk)));
    }
  }
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::Kiosk> kiosk =
      options_.keys.kiosks->Revoke(request.kiosk_id());
  if (!kiosk.ok()) return reply.Fail(ToGrpcStatus(kiosk.status()));
  reply.Ok(*kiosk);
}

grpc::Status CircuitServiceImpl::AccountsFor(
    const grpc::ServerContextBase& context, Principal* who) const {
  grpc::Status allowed = Authenticate(context, options_.keys, who);
  if (!allowed.ok()) return allowed;
  if (options_.accounts == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "this server keeps no accounts");
  }
  return grpc::Status::OK;
}

void CircuitServiceImpl::ServeAddAccount(
    grpc::ServerContext* context, const v1::AddAccountRequest& request,
    UnaryReply<v1::AccountCredential> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  v1::AddAccountRequest add = request;
  if (add.studio_id().empty()) add.set_studio_id(StudioOf(who));
  if (allowed.ok())
    allowed = ToGrpcStatus(MayManageAccounts(who, add.studio_id()));
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::AccountCredential> added = options_.accounts->Add(add);
  if (!added.ok()) return reply.Fail(ToGrpcStatus(added.status()));
  LogInfo("account %s (%s of studio %s) added by %s",
          added->account().account_id().c_str(),
          v1::AccountRole_Name(added->account().role()).c_str(),
          added->account().studio_id().c_str(), who.subject.c_str());
  reply.Ok(*added);
}

void CircuitServiceImpl::ServeListAccounts(
    grpc::ServerContext* context, const v1::ListAccountsRequest&,
    UnaryReply<v1::ListAccountsResponse> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (allowed.ok())
    allowed = ToGrpcStatus(MayManageAccounts(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  v1::ListAccountsResponse response;
  for (v1::Account& account : options_.accounts->List(who.studio)) {
    *response.add_accounts() = std::move(account);
  }
  reply.Ok(response);
}

grpc::Status CircuitServiceImpl::ManagedAccount(
    const grpc::ServerContextBase& context, const std::string& account_id,
    Principal* who) const {
  grpc::Status allowed = AccountsFor(context, who);
  if (!allowed.ok()) return allowed;
  return ToGrpcStatus(MayManageAccount(*who, *options_.accounts, account_id));
}

void CircuitServiceImpl::ServeRevokeAccount(
    grpc::ServerContext* context, const v1::RevokeAccountRequest& request,
    UnaryReply<v1::Account> reply) {
  Principal who;
  grpc::Status allowed = ManagedAccount(*context, request.account_id(), &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::Account> revoked =
      options_.accounts->Revoke(request.account_id());
  if (!revoked.ok()) return reply.Fail(ToGrpcStatus(revoked.status()));
  LogInfo("account %s revoked by %s", revoked->account_id().c_str(),
          who.subject.c_str());
  EndStreamsOfDeadCredentials();
  reply.Ok(*revoked);
}

void CircuitServiceImpl::ServeReissueAccountCredential(
    grpc::ServerContext* context,
    const v1::ReissueAccountCredentialRequest& request,
    UnaryReply<v1::AccountCredential> reply) {
  Principal who;
  grpc::Status allowed = ManagedAccount(*context, request.account_id(), &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::AccountCredential> issued = options_.accounts->Reissue(
      request.account_id(), request.credential_ttl_seconds());
  if (!issued.ok()) return reply.Fail(ToGrpcStatus(issued.status()));
  LogInfo("account %s has a new credential, issued by %s",
          issued->account().account_id().c_str(), who.subject.c_str());
  EndStreamsOfDeadCredentials();
  reply.Ok(*issued);
}

void CircuitServiceImpl::ServeIssueClassCredential(
    grpc::ServerContext* context,
    const v1::IssueClassCredentialRequest& request,
    UnaryReply<v1::ClassCredential> reply) {
  Principal who;
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayRunClass, &who);
  if (allowed.ok() && who.role == Principal::Role::kClass) {
    allowed = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           "a class credential cannot issue another");
  }
  if (allowed.ok() && options_.accounts == nullptr) {
    allowed = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "this server issues no class credentials");
  }
  if (!allowed.ok()) return reply.Fail(allowed);
  const std::optional<v1::ClassInfo> info = registry_->Info(request.class_id());
  absl::StatusOr<v1::ClassCredential> issued =
      options_.accounts->IssueClassCredential(
          who, request.class_id(), info.has_value() ? StudioOf(*info) : "",
          request.ttl_seconds());
  if (!issued.ok()) return reply.Fail(ToGrpcStatus(issued.status()));
  reply.Ok(*issued);
}

void CircuitServiceImpl::ServeIssueSignInCode(
    grpc::ServerContext* context, const v1::IssueSignInCodeRequest& request,
    UnaryReply<v1::SignInCode> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  if (options_.sign_ins == nullptr) {
    return reply.Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "this server offers no console sign-in"));
  }
  absl::StatusOr<v1::SignInCode> code = options_.sign_ins->Issue(who, request);
  if (!code.ok()) return reply.Fail(ToGrpcStatus(code.status()));
  LogInfo("sign-in code for account %s issued by %s",
          code->account_id().c_str(), who.subject.c_str());
  reply.Ok(*code);
}

void CircuitServiceImpl::ServeSignIn(grpc::ServerContext* context,
                                     const v1::SignInRequest& request,
                                     UnaryReply<v1::SignInResponse> reply) {
  if (options_.sign_ins == nullptr) {
    return reply.Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "this server offers no console sign-in"));
  }
  // Codes are guessed no faster than join codes.
  if (!limits_->lookups()->Allow(context->peer(), clock_->Now())) {
    return reply.Fail(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kTooManySignIns));
  }
  absl::StatusOr<v1::SignInResponse> signed_in = options_.sign_ins->SignIn(
      request, BearerToken(*context).value_or(""), options_.keys);
  if (!signed_in.ok()) return reply.Fail(ToGrpcStatus(signed_in.status()));
  reply.Ok(*signed_in);
}

void CircuitServiceImpl::ServeRotateSigningKey(
    grpc::ServerContext* context, const v1::RotateSigningKeyRequest&,
    UnaryReply<v1::SigningKeys> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageSigningKeys(who));
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::SigningKeys> keys = options_.accounts->RotateSigningKey();
  if (!keys.ok()) return reply.Fail(ToGrpcStatus(keys.status()));
  LogInfo("signing key rotated: %s signs now",
          keys->keys(keys->keys_size() - 1).key_id().c_str());
  reply.Ok(*keys);
}

void CircuitServiceImpl::ServeRetireSigningKey(
    grpc::ServerContext* context, const v1::RetireSigningKeyRequest& request,
    UnaryReply<v1::SigningKeys> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageSigningKeys(who));
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::SigningKeys> keys =
      options_.accounts->RetireSigningKey(request.key_id());
  if (!keys.ok()) return reply.Fail(ToGrpcStatus(keys.status()));
  LogInfo("signing key %s retired", request.key_id().c_str());
  EndStreamsOfDeadCredentials();
  reply.Ok(*keys);
}

}  // namespace circuit
