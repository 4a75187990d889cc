#ifndef CIRCUIT_SERVER_RPC_HEALTH_SERVICE_H_
#define CIRCUIT_SERVER_RPC_HEALTH_SERVICE_H_

// grpc.health.v1.Health, served by circuitd itself on the completion-queue
// shards, instead of gRPC's built-in one: that one (gRPC 1.51) runs on the
// callback API's poller, which circuitd otherwise does without, and keeps
// Watch streams open while draining, so each would hold the drain for the
// whole grace period.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/rpc/cq_call.h"
#include "server/rpc/unary_call.h"

namespace circuit {

using HealthServiceBase = grpc::health::v1::Health::WithRawMethod_Check<
    grpc::health::v1::Health::WithRawMethod_Watch<
        grpc::health::v1::Health::Service>>;

class HealthService final : public HealthServiceBase {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Answers for "" (the whole server) and each of `services`; every name
  // starts NOT_SERVING.
  explicit HealthService(const std::vector<std::string>& services);

  // Serves Check and Watch on `shard`. Call once per shard, once the server
  // is built.
  void ServeOn(CqShard* shard);

  // Sets every name SERVING or NOT_SERVING and tells the watchers.
  void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(mu_);
  // For draining: every name NOT_SERVING for good; each watcher of a served
  // name is sent that (a watcher of an unknown name, already sent
  // SERVICE_UNKNOWN, nothing more) and every stream is finished OK. Later
  // watches get their status and end.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Once the server has shut down: waits until every call object is gone.
  // False when some are left at `deadline`.
  bool WaitForCallsGone(absl::Time deadline) {
    return calls_.WaitZeroUntil(deadline);
  }

 private:
  class Watcher;

  void ServeCheck(grpc::ServerContext* context,
                  const grpc::health::v1::HealthCheckRequest& request,
                  UnaryReply<grpc::health::v1::HealthCheckResponse> reply)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The status of `service`; SERVICE_UNKNOWN for a name not served.
  ServingStatus StatusOf(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddWatcher(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  // Call objects alive (Check and Watch, waiting or serving).
  Outstanding calls_;
  UnaryMethod check_;
  mutable absl::Mutex mu_;
  std::map<std::string, ServingStatus> status_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Open watches; each removes itself when done.
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_HEALTH_SERVICE_H_
