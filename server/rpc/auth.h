#ifndef CIRCUIT_SERVER_RPC_AUTH_H_
#define CIRCUIT_SERVER_RPC_AUTH_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/common/rate_limit.h"
#include "server/live/kiosks.h"

namespace circuit {

// The secrets circuitd checks. Immutable after start-up.
struct AccessKeys {
  std::string instructor_key;
  std::string kiosk_key;
  // Paired studio TVs: each one's credential counts as the kiosk key. Null:
  // none.
  KioskPairings* kiosks = nullptr;
};

// Who a call's credential says it is.
enum class Credential { kNone, kInstructor, kKiosk, kOther };

// The bearer token of a call's `authorization: Bearer <token>` metadata;
// nullopt when absent or malformed.
std::optional<std::string> BearerToken(const grpc::ServerContextBase& context);

// Which key `token` is, compared in constant time (kNone when empty).
Credential IdentifyToken(const std::string& token, const AccessKeys& keys);

// Which key the call presents, compared in constant time.
Credential Identify(const grpc::ServerContextBase& context,
                    const AccessKeys& keys);

// OK for the instructor; UNAUTHENTICATED without a credential or with an
// unknown one; PERMISSION_DENIED for a kiosk key.
grpc::Status RequireInstructor(const grpc::ServerContextBase& context,
                               const AccessKeys& keys);

// OK for the instructor or a kiosk; UNAUTHENTICATED otherwise.
grpc::Status RequireInstructorOrKiosk(const grpc::ServerContextBase& context,
                                      const AccessKeys& keys);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_AUTH_H_
