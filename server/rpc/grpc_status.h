#ifndef CIRCUIT_SERVER_RPC_GRPC_STATUS_H_
#define CIRCUIT_SERVER_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace circuit {

// Converts an absl::Status to a grpc::Status at the service boundary. The
// two share code numbering.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_GRPC_STATUS_H_
