#include "server/rpc/health_service.h"

#include <optional>
#include <utility>

namespace circuit {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: one write in flight; a newer status replaces one not yet
// written (only the latest matters); finished after the last write when the
// service shuts down.
class HealthService::Watcher
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* service, std::string name)
      : service_(service), name_(std::move(name)) {}

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

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The client is gone: OnCancel or OnDone follows; finish once.
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
  // Starts the next write, or finishes when nothing is left and the service
  // is shutting down.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || done_writing_) return;
    if (pending_.has_value()) {
      sent_ = *pending_;
      pending_.reset();
      response_.set_status(sent_);
      writing_ = true;
      StartWrite(&response_);
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
  const std::string name_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  // The status of the last write started, in flight or done; UNKNOWN,
  // which StatusOf never returns, before the first.
  ServingStatus sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_after_ ABSL_GUARDED_BY(mu_) = false;
  bool done_writing_ ABSL_GUARDED_BY(mu_) = false;

  friend class HealthService;
};

HealthService::HealthService(const std::vector<std::string>& services) {
  absl::MutexLock lock(&mu_);
  status_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& name : services) {
    status_[name] = HealthCheckResponse::NOT_SERVING;
  }
}

HealthService::~HealthService() {
  // The server is shut down before this: every watch has ended or is being
  // cancelled; wait for their OnDone so none outlives the service.
  absl::MutexLock lock(&mu_);
  while (!watchers_.empty()) no_watchers_.Wait(&mu_);
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
    watcher->Update(StatusOf(watcher->name_), /*last=*/false);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [name, status] : status_) {
    status = HealthCheckResponse::NOT_SERVING;
  }
  for (Watcher* watcher : watchers_) {
    watcher->Update(StatusOf(watcher->name_), /*last=*/true);
  }
}

void HealthService::Forget(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
  if (watchers_.empty()) no_watchers_.SignalAll();
}

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  const ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 "no health status for service \"" +
                                     request->service().substr(0, 200) + "\""));
    return reactor;
  }
  response->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* /*context*/,
    const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service().substr(0, 200));
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  // An unknown name is answered SERVICE_UNKNOWN and watched: it may appear.
  watcher->Update(StatusOf(watcher->name_), /*last=*/shut_down_);
  return watcher;
}

}  // namespace circuit
