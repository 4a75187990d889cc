#include "server/auth/access.h"

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

absl::Status Denied(const std::string& message) {
  return absl::PermissionDeniedError(message);
}

bool IsAccount(const Principal& who) {
  return who.role == Role::kAdmin || who.role == Role::kInstructor;
}

}  // namespace

absl::Status Authenticate(const std::string& token, const AccessKeys& keys,
                          Principal* who) {
  *who = Principal();
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "send a credential as `authorization: Bearer <credential>` metadata");
  }
  if (SameSecret(token, keys.instructor_key)) {
    who->role = Role::kBootstrap;
    who->subject = "bootstrap";
    return absl::OkStatus();
  }
  if (SameSecret(token, keys.kiosk_key)) {
    who->role = Role::kKiosk;
    who->subject = "studio-kiosk";
    who->studio = kDefaultStudio;
    return absl::OkStatus();
  }
  if (keys.accounts != nullptr && Accounts::LooksLikeCredential(token)) {
    absl::StatusOr<Principal> verified = keys.accounts->Verify(token);
    if (!verified.ok()) {
      return absl::UnauthenticatedError(verified.status().message());
    }
    *who = *std::move(verified);
    return absl::OkStatus();
  }
  if (keys.kiosks != nullptr) {
    if (std::optional<v1::Kiosk> kiosk = keys.kiosks->KioskOf(token)) {
      who->role = Role::kKiosk;
      who->subject = kiosk->kiosk_id();
      who->studio =
          kiosk->studio_id().empty() ? kDefaultStudio : kiosk->studio_id();
      return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError(
      "the credential is not one this server issued, or it was revoked");
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

absl::Status MayCreateClass(const Principal& who) {
  if (who.role == Role::kBootstrap || IsAccount(who)) return absl::OkStatus();
  if (who.role == Role::kClass) {
    return Denied(absl::StrCat("a class credential opens class ", who.class_id,
                               " only; creating classes needs an account"));
  }
  return Denied("a kiosk credential cannot do this; it needs an account");
}

absl::Status MayRunClass(const Principal& who, const v1::ClassInfo& info) {
  switch (who.role) {
    case Role::kBootstrap:
      return absl::OkStatus();
    case Role::kAdmin:
      if (who.studio == StudioOf(info)) return absl::OkStatus();
      break;
    case Role::kInstructor:
      if (who.studio == StudioOf(info) && who.subject == OwnerOf(info)) {
        return absl::OkStatus();
      }
      break;
    case Role::kClass:
      if (who.class_id == info.class_id()) return absl::OkStatus();
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

absl::Status MayWatchClass(const Principal& who, const v1::ClassInfo& info) {
  if (who.role == Role::kKiosk || IsAccount(who)) {
    if (who.studio == StudioOf(info)) return absl::OkStatus();
    return Denied(
        absl::StrCat("class ", info.class_id(), " belongs to another studio"));
  }
  return MayRunClass(who, info);
}

absl::Status MayManageKiosks(const Principal& who, const std::string& studio) {
  if (who.role == Role::kBootstrap) return absl::OkStatus();
  if (IsAccount(who) && who.studio == studio) return absl::OkStatus();
  if (IsAccount(who)) {
    return Denied("that TV belongs to another studio");
  }
  return Denied("pairing and revoking TVs needs an account of the studio");
}

absl::Status MayManageAccounts(const Principal& who,
                               const std::string& studio) {
  if (who.role == Role::kBootstrap) return absl::OkStatus();
  if (who.role == Role::kAdmin && who.studio == studio) {
    return absl::OkStatus();
  }
  if (who.role == Role::kAdmin) {
    return Denied(absl::StrCat("an admin of studio ", who.studio,
                               " cannot manage studio ", studio,
                               "'s accounts"));
  }
  return Denied(
      "managing accounts needs an admin account or the bootstrap key");
}

absl::Status MayManageAccount(const Principal& who, const Accounts& accounts,
                              const std::string& account_id) {
  absl::StatusOr<v1::Account> account = accounts.Find(account_id);
  if (!account.ok()) {
    absl::Status may = MayManageAccounts(who, StudioOf(who));
    return may.ok() ? account.status() : may;
  }
  return MayManageAccounts(who, account->studio_id());
}

absl::Status MayManageSigningKeys(const Principal& who) {
  if (who.role == Role::kBootstrap) return absl::OkStatus();
  return Denied("rotating signing keys needs circuitd's bootstrap key");
}

}  // namespace circuit
