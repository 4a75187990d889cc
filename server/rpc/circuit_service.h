#ifndef CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_
#define CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_

#include "circuit/v1/service.grpc.pb.h"
#include "server/common/clock.h"
#include "server/library/circuit_library.h"

namespace circuit {

// The circuit.v1.CircuitService adapter over the plain C++ classes. Callback
// API; every handler answers without blocking. Thread-safe.
class CircuitServiceImpl final : public v1::CircuitService::CallbackService {
 public:
  // `library` and `clock` must outlive the service.
  CircuitServiceImpl(const CircuitLibrary* library, const Clock* clock);

  grpc::ServerUnaryReactor* ListCircuits(
      grpc::CallbackServerContext* context,
      const v1::ListCircuitsRequest* request,
      v1::ListCircuitsResponse* response) override;
  grpc::ServerUnaryReactor* GetCircuit(
      grpc::CallbackServerContext* context,
      const v1::GetCircuitRequest* request,
      v1::GetCircuitResponse* response) override;
  grpc::ServerUnaryReactor* GetClock(grpc::CallbackServerContext* context,
                                     const v1::GetClockRequest* request,
                                     v1::GetClockResponse* response) override;

 private:
  const CircuitLibrary* library_;
  const Clock* clock_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_
