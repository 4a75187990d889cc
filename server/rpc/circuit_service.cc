#include "server/rpc/circuit_service.h"

// The service's construction, the unary methods' registration and the
// bookkeeping of open streams. The stream reactors are in
// *_class_reactor.cc, the class methods in class_handlers.cc, the admin
// methods in admin_handlers.cc.

#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "server/fanout/stream.h"
#include "server/live/class_lookup.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/stream_reactors.h"

namespace circuit {

CircuitServiceImpl::CircuitServiceImpl(const CircuitLibrary* library,
                                       ClassRegistry* registry,
                                       const Clock* clock, SharedLimits* limits,
                                       ServiceOptions options)
    : library_(library),
      registry_(registry),
      clock_(clock),
      limits_(limits),
      options_(std::move(options)),
      pacer_(options_.pacing) {}

absl::Duration CircuitServiceImpl::WriteInterval(int64_t now_ns) {
  if (options_.write_interval.has_value()) return *options_.write_interval;
  return pacer_.Interval(now_ns, Stream::totals().messages,
                         calls_alive_.load(std::memory_order_relaxed));
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListCircuits(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeListCircuits, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetCircuit(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeGetCircuit, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::CreateClass(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeCreateClass, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetClass(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeGetClass, context, request,
                    response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListClasses(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeListClasses, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetClock(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeGetClock, context, request,
                    response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetClassSummary(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeGetClassSummary, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetWallSummary(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeGetWallSummary, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::EraseHealthData(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeEraseHealthData, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ApproveKioskPairing(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeApproveKioskPairing,
                    context, request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListKiosks(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeListKiosks, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::RevokeKiosk(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeRevokeKiosk, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::AddAccount(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeAddAccount, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListAccounts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeListAccounts, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::RevokeAccount(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeRevokeAccount, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ReissueAccountCredential(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeReissueAccountCredential,
                    context, request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::IssueClassCredential(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeIssueClassCredential,
                    context, request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::RotateSigningKey(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeRotateSigningKey, context,
                    request, response);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::RetireSigningKey(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(this, &CircuitServiceImpl::ServeRetireSigningKey, context,
                    request, response);
}

void CircuitServiceImpl::TrackCredential(const Principal& who,
                                         const grpc::ServerContextBase& context,
                                         std::weak_ptr<Stream> stream) {
  if (who.role != Principal::Role::kAdmin &&
      who.role != Principal::Role::kInstructor &&
      who.role != Principal::Role::kClass) {
    return;  // the bootstrap and kiosk keys are not revoked this way
  }
  std::optional<std::string> token = BearerToken(context);
  if (!token.has_value()) return;
  absl::MutexLock lock(&credential_streams_mu_);
  credential_streams_.erase(
      std::remove_if(credential_streams_.begin(), credential_streams_.end(),
                     [](const auto& entry) {
                       std::shared_ptr<Stream> open = entry.second.lock();
                       return open == nullptr || open->dead();
                     }),
      credential_streams_.end());
  credential_streams_.emplace_back(*std::move(token), std::move(stream));
}

void CircuitServiceImpl::EndStreamsOfDeadCredentials() {
  if (options_.accounts == nullptr) return;
  absl::MutexLock lock(&credential_streams_mu_);
  for (auto it = credential_streams_.begin();
       it != credential_streams_.end();) {
    std::shared_ptr<Stream> open = it->second.lock();
    if (open != nullptr && !open->dead()) {
      absl::StatusOr<Principal> still = options_.accounts->Verify(it->first);
      if (still.ok()) {
        ++it;
        continue;
      }
      open->Close(absl::UnauthenticatedError(still.status().message()),
                  /*after_queued=*/false);
    }
    it = credential_streams_.erase(it);
  }
}

bool CircuitServiceImpl::WaitForStreamsGone(absl::Time deadline) {
  absl::MutexLock lock(&calls_mu_);
  auto gone = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_) {
    return calls_ == 0;
  };
  return calls_mu_.AwaitWithDeadline(absl::Condition(&gone), deadline);
}

void CircuitServiceImpl::ServeStreamsOn(CqShard* shard, int calls_waiting) {
  for (int i = 0; i < calls_waiting; ++i) {
    ListenForRunClass(this, shard);
    ListenForJoinClass(this, shard);
    ListenForWatchClass(this, shard);
  }
}

}  // namespace circuit
