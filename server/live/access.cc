#include "server/live/access.h"

#include <openssl/crypto.h>

#include <optional>

#include "absl/strings/str_cat.h"

namespace circuit {
namespace {

using Role = Principal::Role;

bool SameSecret(const std::string& given, const std::string& expected) {
  if (expected.empty() || given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

grpc::Status Denied(const std::string& message) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message);
}

bool IsAccount(const Principal& who) {
  return who.role == Role::kAdmin || who.role == Role::kInstructor;
}

}  // namespace

grpc::Status Authenticate(const std::string& token, const AccessKeys& keys,
                          Principal* who) {
  *who = Principal();
  if (token.empty()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "send a credential as `authorization: Bearer "
                        "<credential>` metadata");
  }
  if (SameSecret(token, keys.instructor_key)) {
    who->role = Role::kBootstrap;
    who->subject = "bootstrap";
    return grpc::Status::OK;
  }
  if (SameSecret(token, keys.kiosk_key)) {
    who->role = Role::kKiosk;
    who->subject = "studio-kiosk";
    who->studio = kDefaultStudio;
    return grpc::Status::OK;
  }
  if (keys.accounts != nullptr && Accounts::LooksLikeCredential(token)) {
    absl::StatusOr<Principal> verified = keys.accounts->Verify(token);
    if (!verified.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string(verified.status().message()));
    }
    *who = *std::move(verified);
    return grpc::Status::OK;
  }
  if (keys.kiosks != nullptr) {
    if (std::optional<v1::Kiosk> kiosk = keys.kiosks->KioskOf(token)) {
      who->role = Role::kKiosk;
      who->subject = kiosk->kiosk_id();
      who->studio =
          kiosk->studio_id().empty() ? kDefaultStudio : kiosk->studio_id();
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "the credential is not one this server issued, or it "
                      "was revoked");
}

std::string StudioOf(const Principal& who) {
  return who.studio.empty() ? kDefaultStudio : who.studio;
}

std::string StudioOf(const v1::ClassInfo& info) {
  return info.studio_id().empty() ? kDefaultStudio : info.studio_id();
}

std::string OwnerOf(const v1::ClassInfo& info) {
  return info.owner_id().empty() ? "bootstrap" : info.owner_id();
}

grpc::Status MayCreateClass(const Principal& who) {
  if (who.role == Role::kBootstrap || IsAccount(who)) return grpc::Status::OK;
  if (who.role == Role::kClass) {
    return Denied(absl::StrCat("a class credential opens class ", who.class_id,
                               " only; creating classes needs an account"));
  }
  return Denied("a kiosk credential cannot do this; it needs an account");
}

grpc::Status MayRunClass(const Principal& who, const v1::ClassInfo& info) {
  switch (who.role) {
    case Role::kBootstrap:
      return grpc::Status::OK;
    case Role::kAdmin:
      if (who.studio == StudioOf(info)) return grpc::Status::OK;
      break;
    case Role::kInstructor:
      if (who.studio == StudioOf(info) && who.subject == OwnerOf(info)) {
        return grpc::Status::OK;
      }
      break;
    case Role::kClass:
      if (who.class_id == info.class_id()) return grpc::Status::OK;
      return Denied(
          absl::StrCat("this credential opens class ", who.class_id, " only"));
    case Role::kKiosk:
      return Denied(
          "a kiosk credential cannot do this; it needs the class's "
          "instructor");
    case Role::kNone:
      break;
  }
  return Denied(absl::StrCat("class ", info.class_id(), " belongs to ",
                             OwnerOf(info), " in studio ", StudioOf(info),
                             "; only they, a class credential for it, or an "
                             "admin of that studio may do this"));
}

grpc::Status MayWatchClass(const Principal& who, const v1::ClassInfo& info) {
  if (who.role == Role::kKiosk || IsAccount(who)) {
    if (who.studio == StudioOf(info)) return grpc::Status::OK;
    return Denied(
        absl::StrCat("class ", info.class_id(), " belongs to another studio"));
  }
  return MayRunClass(who, info);
}

grpc::Status MayManageKiosks(const Principal& who, const std::string& studio) {
  if (who.role == Role::kBootstrap) return grpc::Status::OK;
  if (IsAccount(who) && who.studio == studio) return grpc::Status::OK;
  if (IsAccount(who)) {
    return Denied("that TV belongs to another studio");
  }
  return Denied("pairing and revoking TVs needs an account of the studio");
}

grpc::Status MayManageAccounts(const Principal& who,
                               const std::string& studio) {
  if (who.role == Role::kBootstrap) return grpc::Status::OK;
  if (who.role == Role::kAdmin && who.studio == studio) {
    return grpc::Status::OK;
  }
  if (who.role == Role::kAdmin) {
    return Denied(absl::StrCat("an admin of studio ", who.studio,
                               " cannot manage studio ", studio,
                               "'s accounts"));
  }
  return Denied(
      "managing accounts needs an admin account or the bootstrap key");
}

grpc::Status MayManageSigningKeys(const Principal& who) {
  if (who.role == Role::kBootstrap) return grpc::Status::OK;
  return Denied("rotating signing keys needs circuitd's bootstrap key");
}

}  // namespace circuit
