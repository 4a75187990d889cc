#ifndef CIRCUIT_SERVER_AUTH_CREDENTIAL_STREAMS_H_
#define CIRCUIT_SERVER_AUTH_CREDENTIAL_STREAMS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/accounts.h"
#include "server/auth/principal.h"
#include "server/fanout/stream.h"

namespace circuit {

// The open streams of account, console and class credentials, whichever
// door opened them: when a credential stops verifying (its account revoked
// or reissued, its signing key retired) its streams end at once with
// UNAUTHENTICATED, not at their next reconnect, so a signed-out console
// page or a revoked substitute's terminal stops showing the class. (Paired
// TVs are tracked the same way by KioskPairings::Track.) Thread-safe.
class CredentialStreams {
 public:
  // `accounts` (may be null: nothing is tracked) must outlive this.
  explicit CredentialStreams(const Accounts* accounts) : accounts_(accounts) {}

  // `stream` was opened by `who` with `token`. The bootstrap and kiosk keys
  // are not revoked this way and are not kept.
  void Track(const Principal& who, const std::string& token,
             std::weak_ptr<Stream> stream) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the tracked streams whose credential no longer verifies. Call after
  // anything that can end credentials.
  void EndStreamsOfDeadCredentials() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Accounts* const accounts_;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::weak_ptr<Stream>>> streams_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_CREDENTIAL_STREAMS_H_
