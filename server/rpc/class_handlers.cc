// The class methods of CircuitServiceImpl: circuits, classes, summaries,
// the clock and erasing health data.

#include <string>
#include <utility>

#include "server/live/class_access.h"
#include "server/live/class_lookup.h"
#include "server/live/summary.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/grpc_status.h"

namespace circuit {

void CircuitServiceImpl::ServeListCircuits(
    grpc::ServerContext*, const v1::ListCircuitsRequest&,
    UnaryReply<v1::ListCircuitsResponse> reply) {
  reply.Ok(circuit::ListCircuits(*library_));
}

void CircuitServiceImpl::ServeGetCircuit(
    grpc::ServerContext*, const v1::GetCircuitRequest& request,
    UnaryReply<v1::GetCircuitResponse> reply) {
  absl::StatusOr<v1::GetCircuitResponse> circuit =
      circuit::GetCircuit(*library_, request.circuit_id());
  if (!circuit.ok()) return reply.Fail(ToGrpcStatus(circuit.status()));
  reply.Ok(*circuit);
}

void CircuitServiceImpl::ServeCreateClass(
    grpc::ServerContext* context, const v1::CreateClassRequest& request,
    UnaryReply<v1::CreateClassResponse> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  // Answered once the class is journaled.
  CreateClassAs(registry_, who, request,
                [reply](absl::StatusOr<v1::CreateClassResponse> created) {
                  if (!created.ok()) {
                    reply.Fail(ToGrpcStatus(created.status()));
                    return;
                  }
                  reply.Ok(*created);
                });
}

void CircuitServiceImpl::ServeGetClass(grpc::ServerContext* context,
                                       const v1::GetClassRequest& request,
                                       UnaryReply<v1::GetClassResponse> reply) {
  if (request.class_ref_case() == v1::GetClassRequest::kJoinCode &&
      !limits_->lookups()->Allow(context->peer(), clock_->Now())) {
    return reply.Fail(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kTooManyLookups));
  }
  DescribeClass(registry_, clock_, request,
                [reply](absl::Status status, v1::GetClassResponse described) {
                  reply.Finish(ToGrpcStatus(status), described);
                });
}

void CircuitServiceImpl::ServeGetClassSummary(
    grpc::ServerContext* context, const v1::GetClassSummaryRequest& request,
    UnaryReply<v1::ClassSummary> reply) {
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayRunClass);
  if (!allowed.ok()) return reply.Fail(allowed);
  Summarize(request.class_id(),
            [reply](grpc::Status status, v1::ClassSummary summary) {
              reply.Finish(status, summary);
            });
}

void CircuitServiceImpl::ServeGetWallSummary(
    grpc::ServerContext* context, const v1::GetWallSummaryRequest& request,
    UnaryReply<v1::WallSummary> reply) {
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayWatchClass);
  if (!allowed.ok()) return reply.Fail(allowed);
  // Only the wall's view of the summary leaves the server.
  Summarize(request.class_id(),
            [reply](grpc::Status status, v1::ClassSummary summary) {
              if (!status.ok()) return reply.Fail(status);
              reply.Ok(WallFromSummary(summary));
            });
}

void CircuitServiceImpl::Summarize(
    const std::string& class_id,
    absl::AnyInvocable<void(grpc::Status, v1::ClassSummary)> done) {
  registry_->Summary(class_id,
                     [done = std::move(done)](
                         absl::StatusOr<v1::ClassSummary> summary) mutable {
                       if (!summary.ok()) {
                         done(ToGrpcStatus(summary.status()), {});
                         return;
                       }
                       done(grpc::Status::OK, std::move(*summary));
                     });
}

void CircuitServiceImpl::ServeEraseHealthData(
    grpc::ServerContext* context, const v1::EraseHealthDataRequest& request,
    UnaryReply<v1::EraseHealthDataResponse> reply) {
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayRunClass);
  if (!allowed.ok()) return reply.Fail(allowed);
  EraseHealthDataOf(registry_, request, [reply](absl::Status status) {
    reply.Finish(ToGrpcStatus(status), {});
  });
}

void CircuitServiceImpl::ServeListClasses(
    grpc::ServerContext* context, const v1::ListClassesRequest& request,
    UnaryReply<v1::ListClassesResponse> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  v1::ListClassesResponse response;
  for (v1::ClassInfo& info : registry_->List(request.include_ended())) {
    if (MayWatchClass(who, info).ok()) {
      *response.add_classes() = std::move(info);
    }
  }
  reply.Ok(response);
}

void CircuitServiceImpl::ServeGetClock(grpc::ServerContext*,
                                       const v1::GetClockRequest& request,
                                       UnaryReply<v1::GetClockResponse> reply) {
  v1::GetClockResponse response;
  response.set_client_send_unix_ms(request.client_send_unix_ms());
  response.set_server_receive_unix_ms(clock_->NowUnixMs());
  response.set_server_send_unix_ms(clock_->NowUnixMs());
  reply.Ok(response);
}

grpc::Status CircuitServiceImpl::ClassAccess(
    const grpc::ServerContextBase& context, const std::string& class_id,
    absl::Status (*may)(const Principal&, const v1::ClassInfo&),
    Principal* who_out) {
  Principal who;
  grpc::Status allowed = Authenticate(context, options_.keys, &who);
  if (!allowed.ok()) return allowed;
  allowed = ToGrpcStatus(AccessClass(*registry_, who, class_id, may).status());
  if (who_out != nullptr) *who_out = std::move(who);
  return allowed;
}

}  // namespace circuit
