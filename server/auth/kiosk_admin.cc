#include "server/auth/kiosk_admin.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/auth/access.h"
#include "server/common/quote.h"

namespace circuit {
namespace {

// Kiosks paired before studios existed belong to the default one.
std::string KioskStudio(const v1::Kiosk& kiosk) {
  return kiosk.studio_id().empty() ? kDefaultStudio : kiosk.studio_id();
}

}  // namespace

absl::StatusOr<v1::Kiosk> ApproveKioskAs(
    KioskPairings* kiosks, const Principal& who,
    const v1::ApproveKioskPairingRequest& request) {
  if (absl::Status allowed = MayManageKiosks(who, StudioOf(who));
      !allowed.ok()) {
    return allowed;
  }
  if (kiosks == nullptr) return absl::UnavailableError("kiosk pairing is off");
  return kiosks->Approve(request.pairing_code(), request.name(), StudioOf(who));
}

absl::StatusOr<v1::ListKiosksResponse> ListKiosksAs(const KioskPairings* kiosks,
                                                    const Principal& who) {
  if (absl::Status allowed = MayManageKiosks(who, StudioOf(who));
      !allowed.ok()) {
    return allowed;
  }
  v1::ListKiosksResponse response;
  if (kiosks == nullptr) return response;
  for (v1::Kiosk& kiosk : kiosks->List()) {
    if (MayManageKiosks(who, KioskStudio(kiosk)).ok()) {
      *response.add_kiosks() = std::move(kiosk);
    }
  }
  return response;
}

absl::StatusOr<v1::Kiosk> RevokeKioskAs(KioskPairings* kiosks,
                                        const Principal& who,
                                        const std::string& kiosk_id) {
  absl::Status allowed = MayManageKiosks(who, StudioOf(who));
  if (!allowed.ok()) return allowed;
  if (kiosks == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no kiosk with id ", QuoteForError(kiosk_id)));
  }
  for (const v1::Kiosk& kiosk : kiosks->List()) {
    if (kiosk.kiosk_id() == kiosk_id) {
      allowed = MayManageKiosks(who, KioskStudio(kiosk));
    }
  }
  if (!allowed.ok()) return allowed;
  return kiosks->Revoke(kiosk_id);
}

}  // namespace circuit
