#include "server/rpc/health_service.h"

#include <optional>
#include <utility>

#include "server/fanout/wire.h"

namespace circuit {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: one write in flight; a newer status replaces one not yet
// written (only the latest matters); finished after the last write when the
// service shuts down.
class HealthService::Watcher
    : public CqStreamCall<grpc::ServerAsyncWriter<grpc::ByteBuffer>> {
 public:
  // Waits for the next Watch call on `shard`.
  static void Listen(HealthService* service, CqShard* shard) {
    auto* watcher = new Watcher(service, shard);
    watcher->CqStreamCall::Listen(
        [service, watcher](grpc::ServerContext* context,
                           grpc::ServerAsyncWriter<grpc::ByteBuffer>* responder,
                           grpc::ServerCompletionQueue* cq, void* tag) {
          service->RequestWatch(context, &watcher->request_bytes_, responder,
                                cq, cq, tag);
        });
  }

  const std::string& name() const { return name_; }

  // Sends `status` when it differs from the last one sent; finishes the
  // stream after it when `last`. Called with the service's mutex held.
  void Update(ServingStatus status, bool last) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (done_writing_) return;
    // sent_ is set when a write starts, so the client has it or soon will:
    // the same status again is no change to send (Watch sends one message
    // per change), and it drops any pending one, which is already stale.
    if (status == sent_) {
      pending_.reset();
    } else {
      pending_ = status;
    }
    finish_after_ = finish_after_ || last;
    Pump();
  }

 protected:
  void OnStarted() override {
    Listen(service_, shard());
    HealthCheckRequest request;
    grpc::ProtoBufferReader reader(&request_bytes_);
    if (request_bytes_.Valid() && !request.ParseFromZeroCopyStream(&reader)) {
      absl::MutexLock lock(&mu_);
      FinishOnce(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "the request does not parse as a grpc.health.v1.HealthCheckRequest"));
      return;
    }
    name_ = request.service().substr(0, 200);
    service_->AddWatcher(this);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The client is gone: OnCancel follows; finish once.
      FinishOnce(grpc::Status::CANCELLED);
      return;
    }
    Pump();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->Forget(this);
    delete this;
  }

 private:
  Watcher(HealthService* service, CqShard* shard)
      : CqStreamCall(shard), service_(service) {
    service_->calls_.Add();
  }
  ~Watcher() override { service_->calls_.Done(); }

  // Starts the next write, or finishes when nothing is left and the service
  // is shutting down.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || done_writing_) return;
    if (pending_.has_value()) {
      sent_ = *pending_;
      pending_.reset();
      HealthCheckResponse response;
      response.set_status(sent_);
      bytes_ = ToByteBuffer(response);
      writing_ = true;
      StartWrite(&bytes_);
      return;
    }
    if (finish_after_) FinishOnce(grpc::Status::OK);
  }

  void FinishOnce(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (done_writing_) return;
    done_writing_ = true;
    Finish(status);
  }

  HealthService* const service_;
  grpc::ByteBuffer request_bytes_;
  // Set in OnStarted, before the watcher is shared.
  std::string name_;
  absl::Mutex mu_;
  // The write in flight.
  grpc::ByteBuffer bytes_ ABSL_GUARDED_BY(mu_);
  // The status of the last write started, in flight or done; UNKNOWN,
  // which StatusOf never returns, before the first.
  ServingStatus sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_ ABSL_GUARDED_BY(mu_) = false;
  bool done_writing_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService(const std::vector<std::string>& services)
    : check_(ServeRaw(this, &HealthService::RequestCheck,
                      &HealthService::ServeCheck, &calls_)) {
  absl::MutexLock lock(&mu_);
  status_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& name : services) {
    status_[name] = HealthCheckResponse::NOT_SERVING;
  }
}

void HealthService::ServeOn(CqShard* shard) {
  CqUnaryCall::Listen(&check_, shard);
  Watcher::Listen(this, shard);
}

HealthService::ServingStatus HealthService::StatusOf(
    const std::string& service) const {
  auto it = status_.find(service);
  return it == status_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                             : it->second;
}

void HealthService::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, status] : status_) {
    status = serving ? HealthCheckResponse::SERVING
                     : HealthCheckResponse::NOT_SERVING;
  }
  for (Watcher* watcher : watchers_) {
    watcher->Update(StatusOf(watcher->name()), /*last=*/false);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [name, status] : status_) {
    status = HealthCheckResponse::NOT_SERVING;
  }
  for (Watcher* watcher : watchers_) {
    watcher->Update(StatusOf(watcher->name()), /*last=*/true);
  }
}

void HealthService::AddWatcher(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  // An unknown name is answered SERVICE_UNKNOWN and watched: it may appear.
  watcher->Update(StatusOf(watcher->name()), /*last=*/shut_down_);
}

void HealthService::Forget(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

void HealthService::ServeCheck(grpc::ServerContext* /*context*/,
                               const HealthCheckRequest& request,
                               UnaryReply<HealthCheckResponse> reply) {
  ServingStatus status;
  {
    absl::MutexLock lock(&mu_);
    status = StatusOf(request.service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reply.Fail(grpc::Status(grpc::StatusCode::NOT_FOUND,
                            "no health status for service \"" +
                                request.service().substr(0, 200) + "\""));
    return;
  }
  HealthCheckResponse response;
  response.set_status(status);
  reply.Ok(response);
}

}  // namespace circuit
