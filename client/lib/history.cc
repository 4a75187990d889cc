#include "client/lib/history.h"

#include <memory>

#include "grpcpp/client_context.h"

namespace circuit::client {

absl::StatusOr<v1::ClassSummary> GetClassSummary(
    const Connection& connection, const std::string& instructor_key,
    const std::string& class_id) {
  std::unique_ptr<grpc::ClientContext> context =
      connection.NewContext(instructor_key);
  v1::GetClassSummaryRequest request;
  request.set_class_id(class_id);
  v1::ClassSummary summary;
  grpc::Status status =
      connection.stub()->GetClassSummary(context.get(), request, &summary);
  if (!status.ok()) return FromGrpcStatus(status);
  return summary;
}

absl::StatusOr<v1::WallSummary> GetWallSummary(const Connection& connection,
                                               const std::string& key,
                                               const std::string& class_id) {
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(key);
  v1::GetWallSummaryRequest request;
  request.set_class_id(class_id);
  v1::WallSummary wall;
  grpc::Status status =
      connection.stub()->GetWallSummary(context.get(), request, &wall);
  if (!status.ok()) return FromGrpcStatus(status);
  return wall;
}

absl::Status EraseHealthData(const Connection& connection,
                             const std::string& instructor_key,
                             const std::string& class_id,
                             const std::string& participant_id) {
  std::unique_ptr<grpc::ClientContext> context =
      connection.NewContext(instructor_key);
  v1::EraseHealthDataRequest request;
  request.set_class_id(class_id);
  request.set_participant_id(participant_id);
  v1::EraseHealthDataResponse response;
  return FromGrpcStatus(
      connection.stub()->EraseHealthData(context.get(), request, &response));
}

}  // namespace circuit::client
