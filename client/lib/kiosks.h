#ifndef CIRCUIT_CLIENT_LIB_KIOSKS_H_
#define CIRCUIT_CLIENT_LIB_KIOSKS_H_

// Studio TVs paired with circuitd: approving the code a TV shows, listing
// the paired ones and revoking one. Each is one unary call with the
// connection's deadline and needs the instructor key (UNAUTHENTICATED or
// PERMISSION_DENIED otherwise). Thread-safe, as Connection is.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "circuit/v1/service.pb.h"
#include "client/lib/connection.h"

namespace circuit::client {

// Approves pairing code `code` (ApproveKioskPairing); `name` may be empty.
// NOT_FOUND for a code no TV shows (or expired), FAILED_PRECONDITION for one
// already approved.
absl::StatusOr<v1::Kiosk> ApproveKioskPairing(const Connection& connection,
                                              const std::string& instructor_key,
                                              const std::string& code,
                                              const std::string& name);

// Every paired kiosk, revoked ones included, oldest first.
absl::StatusOr<std::vector<v1::Kiosk>> ListKiosks(
    const Connection& connection, const std::string& instructor_key);

// Revokes kiosk `kiosk_id`; NOT_FOUND for an unknown one.
absl::StatusOr<v1::Kiosk> RevokeKiosk(const Connection& connection,
                                      const std::string& instructor_key,
                                      const std::string& kiosk_id);

}  // namespace circuit::client

#endif  // CIRCUIT_CLIENT_LIB_KIOSKS_H_
