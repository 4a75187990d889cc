#include "client/lib/kiosks.h"

#include <memory>

#include "grpcpp/client_context.h"

namespace circuit::client {

absl::StatusOr<v1::Kiosk> ApproveKioskPairing(const Connection& connection,
                                              const std::string& instructor_key,
                                              const std::string& code,
                                              const std::string& name) {
  std::unique_ptr<grpc::ClientContext> context =
      connection.NewContext(instructor_key);
  v1::ApproveKioskPairingRequest request;
  request.set_pairing_code(code);
  request.set_name(name);
  v1::Kiosk kiosk;
  grpc::Status status =
      connection.stub()->ApproveKioskPairing(context.get(), request, &kiosk);
  if (!status.ok()) return FromGrpcStatus(status);
  return kiosk;
}

absl::StatusOr<std::vector<v1::Kiosk>> ListKiosks(
    const Connection& connection, const std::string& instructor_key) {
  std::unique_ptr<grpc::ClientContext> context =
      connection.NewContext(instructor_key);
  v1::ListKiosksResponse response;
  grpc::Status status = connection.stub()->ListKiosks(
      context.get(), v1::ListKiosksRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return std::vector<v1::Kiosk>(response.kiosks().begin(),
                                response.kiosks().end());
}

absl::StatusOr<v1::Kiosk> RevokeKiosk(const Connection& connection,
                                      const std::string& instructor_key,
                                      const std::string& kiosk_id) {
  std::unique_ptr<grpc::ClientContext> context =
      connection.NewContext(instructor_key);
  v1::RevokeKioskRequest request;
  request.set_kiosk_id(kiosk_id);
  v1::Kiosk kiosk;
  grpc::Status status =
      connection.stub()->RevokeKiosk(context.get(), request, &kiosk);
  if (!status.ok()) return FromGrpcStatus(status);
  return kiosk;
}

}  // namespace circuit::client
