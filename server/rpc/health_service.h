#ifndef CIRCUIT_SERVER_RPC_HEALTH_SERVICE_H_
#define CIRCUIT_SERVER_RPC_HEALTH_SERVICE_H_

// grpc.health.v1.Health, served by circuitd itself instead of gRPC's
// built-in one so that draining ends Watch streams: the built-in service
// (gRPC 1.51) keeps them open, and each would hold the drain for the whole
// grace period.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace circuit {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Answers for "" (the whole server) and each of `services`; every name
  // starts NOT_SERVING.
  explicit HealthService(const std::vector<std::string>& services);
  ~HealthService() override;

  // Sets every name SERVING or NOT_SERVING and tells the watchers.
  void SetServing(bool serving);
  // For draining: every name NOT_SERVING for good; each watcher of a served
  // name is sent that (a watcher of an unknown name, already sent
  // SERVICE_UNKNOWN, nothing more) and every stream is finished OK. Later
  // watches get their status and end.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;

  // The status of `service`; SERVICE_UNKNOWN for a name not served.
  ServingStatus StatusOf(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, ServingStatus> status_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Open watches; each removes itself when done.
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  absl::CondVar no_watchers_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_HEALTH_SERVICE_H_
