#ifndef CIRCUIT_SERVER_AUTH_KIOSK_ADMIN_H_
#define CIRCUIT_SERVER_AUTH_KIOSK_ADMIN_H_

// Approving, listing and revoking a studio's TVs as every door answers it
// (the gRPC service and the HTTP API): each call checks MayManageKiosks
// against the caller's studio and, for one TV, against that TV's studio.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "circuit/v1/service.pb.h"
#include "server/auth/kiosks.h"
#include "server/auth/principal.h"

namespace circuit {

// Approves a pairing for `who`'s studio. UNAVAILABLE when `kiosks` is null
// (pairing is off); the access rule's or the pairing's refusal otherwise.
absl::StatusOr<v1::Kiosk> ApproveKioskAs(
    KioskPairings* kiosks, const Principal& who,
    const v1::ApproveKioskPairingRequest& request);

// The TVs `who` may manage (none when `kiosks` is null).
absl::StatusOr<v1::ListKiosksResponse> ListKiosksAs(const KioskPairings* kiosks,
                                                    const Principal& who);

// Revokes a TV `who` may manage. NOT_FOUND for an unknown id (or when
// `kiosks` is null); PERMISSION_DENIED for another studio's TV.
absl::StatusOr<v1::Kiosk> RevokeKioskAs(KioskPairings* kiosks,
                                        const Principal& who,
                                        const std::string& kiosk_id);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_KIOSK_ADMIN_H_
