#ifndef CIRCUIT_SERVER_RPC_AUTH_H_
#define CIRCUIT_SERVER_RPC_AUTH_H_

#include <optional>
#include <string>

#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "server/auth/access.h"

namespace circuit {

// The bearer token of a call's `authorization: Bearer <token>` metadata;
// nullopt when absent or malformed.
std::optional<std::string> BearerToken(const grpc::ServerContextBase& context);

// Who the call's credential is, into `who` (server/auth/access.h).
// UNAUTHENTICATED, saying why, when there is none or it opens nothing.
grpc::Status Authenticate(const grpc::ServerContextBase& context,
                          const AccessKeys& keys, Principal* who);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_AUTH_H_
