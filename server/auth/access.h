#ifndef CIRCUIT_SERVER_AUTH_ACCESS_H_
#define CIRCUIT_SERVER_AUTH_ACCESS_H_

#include <string>

#include "absl/status/status.h"
#include "circuit/v1/live.pb.h"
#include "server/auth/accounts.h"
#include "server/auth/kiosks.h"
#include "server/auth/principal.h"

namespace circuit {

// The credentials circuitd accepts, and what each opens. Every adapter (gRPC
// and HTTP) asks here, so the rules are written once; each turns the
// absl::Status into its own transport's status.
struct AccessKeys {
  // The bootstrap admin: opens everything (empty: none).
  std::string instructor_key;
  // The default studio's shared kiosk key (empty: none).
  std::string kiosk_key;
  // Paired studio TVs, each with a credential of its own. Null: none.
  KioskPairings* kiosks = nullptr;
  // Accounts and class credentials (signed tokens). Null: none.
  const Accounts* accounts = nullptr;
};

// Who `token` is, into `who`. UNAUTHENTICATED, saying why, when it is empty
// or opens nothing.
absl::Status Authenticate(const std::string& token, const AccessKeys& keys,
                          Principal* who);

// The studio `who` acts in (the default studio for the bootstrap key).
std::string StudioOf(const Principal& who);
// The class's studio and owner, for classes that predate accounts too.
std::string StudioOf(const v1::ClassInfo& info);
std::string OwnerOf(const v1::ClassInfo& info);

// Each is OK, or PERMISSION_DENIED saying what would be allowed.
// Create a class: an account or the bootstrap key.
absl::Status MayCreateClass(const Principal& who);
// Run, summarize, export or erase a class: its owner, a class credential for
// it, an admin of its studio, or the bootstrap key.
absl::Status MayRunClass(const Principal& who, const v1::ClassInfo& info);
// Watch it (kiosk view, wall summary) or see it listed: anyone who may run
// it, and the kiosks and accounts of its studio.
absl::Status MayWatchClass(const Principal& who, const v1::ClassInfo& info);
// Pair, list and revoke the studio's TVs: its accounts, the bootstrap key.
absl::Status MayManageKiosks(const Principal& who, const std::string& studio);
// Add, list, revoke accounts of `studio`: its admins, the bootstrap key.
absl::Status MayManageAccounts(const Principal& who, const std::string& studio);
// Revoke, reissue or issue a sign-in code for account `account_id`: an
// admin of its studio, the bootstrap key. NOT_FOUND for an unknown account,
// but only to those who may manage accounts of their own studio (another
// studio's account ids are not confirmed to its admins either).
absl::Status MayManageAccount(const Principal& who, const Accounts& accounts,
                              const std::string& account_id);
// Rotate and retire signing keys: the bootstrap key only.
absl::Status MayManageSigningKeys(const Principal& who);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_ACCESS_H_
