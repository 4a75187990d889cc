#include "server/rpc/circuit_service.h"

#include "absl/strings/str_cat.h"

namespace circuit {
namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

CircuitServiceImpl::CircuitServiceImpl(const CircuitLibrary* library,
                                       const Clock* clock)
    : library_(library), clock_(clock) {}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListCircuits(
    grpc::CallbackServerContext* context, const v1::ListCircuitsRequest*,
    v1::ListCircuitsResponse* response) {
  for (const v1::Circuit& c : library_->circuits()) {
    *response->add_circuits() = c;
  }
  for (const v1::Exercise& e : library_->exercises()) {
    *response->add_exercises() = e;
  }
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetCircuit(
    grpc::CallbackServerContext* context, const v1::GetCircuitRequest* request,
    v1::GetCircuitResponse* response) {
  const v1::Circuit* circuit = library_->FindCircuit(request->circuit_id());
  if (circuit == nullptr) {
    return Finish(context,
                  grpc::Status(grpc::StatusCode::NOT_FOUND,
                               absl::StrCat("no circuit with id \"",
                                            request->circuit_id().substr(0, 64),
                                            "\"; ListCircuits lists them")));
  }
  *response->mutable_circuit() = *circuit;
  for (v1::Exercise& e : library_->ExercisesFor(*circuit)) {
    *response->add_exercises() = std::move(e);
  }
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetClock(
    grpc::CallbackServerContext* context, const v1::GetClockRequest* request,
    v1::GetClockResponse* response) {
  response->set_client_send_unix_ms(request->client_send_unix_ms());
  response->set_server_receive_unix_ms(clock_->NowUnixMs());
  response->set_server_send_unix_ms(clock_->NowUnixMs());
  return Finish(context, grpc::Status::OK);
}

}  // namespace circuit
