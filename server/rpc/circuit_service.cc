#include "server/rpc/circuit_service.h"

// The service's construction, the unary methods' table and the bookkeeping
// of open calls. The stream reactors are in
// *_class_reactor.cc, the class methods in class_handlers.cc, the admin
// methods in admin_handlers.cc.

#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "server/fanout/stream.h"
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
      pacer_(options_.pacing) {
  auto add = [this](UnaryMethod method) {
    unary_methods_.push_back(std::move(method));
  };
  using Self = CircuitServiceImpl;
  add(ServeRaw(this, &Self::RequestListCircuits, &Self::ServeListCircuits,
               &calls_));
  add(ServeRaw(this, &Self::RequestGetCircuit, &Self::ServeGetCircuit,
               &calls_));
  add(ServeRaw(this, &Self::RequestCreateClass, &Self::ServeCreateClass,
               &calls_));
  add(ServeRaw(this, &Self::RequestGetClass, &Self::ServeGetClass, &calls_));
  add(ServeRaw(this, &Self::RequestListClasses, &Self::ServeListClasses,
               &calls_));
  add(ServeRaw(this, &Self::RequestGetClock, &Self::ServeGetClock, &calls_));
  add(ServeRaw(this, &Self::RequestGetClassSummary, &Self::ServeGetClassSummary,
               &calls_));
  add(ServeRaw(this, &Self::RequestGetWallSummary, &Self::ServeGetWallSummary,
               &calls_));
  add(ServeRaw(this, &Self::RequestEraseHealthData, &Self::ServeEraseHealthData,
               &calls_));
  add(ServeRaw(this, &Self::RequestApproveKioskPairing,
               &Self::ServeApproveKioskPairing, &calls_));
  add(ServeRaw(this, &Self::RequestListKiosks, &Self::ServeListKiosks,
               &calls_));
  add(ServeRaw(this, &Self::RequestRevokeKiosk, &Self::ServeRevokeKiosk,
               &calls_));
  add(ServeRaw(this, &Self::RequestAddAccount, &Self::ServeAddAccount,
               &calls_));
  add(ServeRaw(this, &Self::RequestListAccounts, &Self::ServeListAccounts,
               &calls_));
  add(ServeRaw(this, &Self::RequestRevokeAccount, &Self::ServeRevokeAccount,
               &calls_));
  add(ServeRaw(this, &Self::RequestReissueAccountCredential,
               &Self::ServeReissueAccountCredential, &calls_));
  add(ServeRaw(this, &Self::RequestIssueClassCredential,
               &Self::ServeIssueClassCredential, &calls_));
  add(ServeRaw(this, &Self::RequestIssueSignInCode, &Self::ServeIssueSignInCode,
               &calls_));
  add(ServeRaw(this, &Self::RequestSignIn, &Self::ServeSignIn, &calls_));
  add(ServeRaw(this, &Self::RequestRotateSigningKey,
               &Self::ServeRotateSigningKey, &calls_));
  add(ServeRaw(this, &Self::RequestRetireSigningKey,
               &Self::ServeRetireSigningKey, &calls_));
  add(ServeRaw(this, &Self::RequestGetMyProfile, &Self::ServeGetMyProfile,
               &calls_));
  add(ServeRaw(this, &Self::RequestUpdateMyProfile, &Self::ServeUpdateMyProfile,
               &calls_));
  add(ServeRaw(this, &Self::RequestGetMyData, &Self::ServeGetMyData, &calls_));
  add(ServeRaw(this, &Self::RequestEraseMyData, &Self::ServeEraseMyData,
               &calls_));
  add(ServeRaw(this, &Self::RequestRevokeProfileCredential,
               &Self::ServeRevokeProfileCredential, &calls_));
  add(ServeRaw(this, &Self::RequestGetProgress, &Self::ServeGetProgress,
               &calls_));
}

absl::Duration CircuitServiceImpl::WriteInterval(int64_t now_ns) {
  if (options_.write_interval.has_value()) return *options_.write_interval;
  return pacer_.Interval(now_ns, Stream::totals().messages,
                         calls_alive_.load(std::memory_order_relaxed));
}

void CircuitServiceImpl::TrackCredential(const Principal& who,
                                         const grpc::ServerContextBase& context,
                                         std::weak_ptr<Stream> stream) {
  if (options_.credential_streams == nullptr) return;
  options_.credential_streams->Track(who, BearerToken(context).value_or(""),
                                     std::move(stream));
}

void CircuitServiceImpl::EndStreamsOfDeadCredentials() {
  if (options_.credential_streams == nullptr) return;
  options_.credential_streams->EndStreamsOfDeadCredentials();
}

bool CircuitServiceImpl::WaitForCallsGone(absl::Time deadline) {
  return calls_.WaitZeroUntil(deadline);
}

void CircuitServiceImpl::ServeOn(CqShard* shard, int calls_waiting) {
  for (int i = 0; i < calls_waiting; ++i) {
    ListenForRunClass(this, shard);
    ListenForJoinClass(this, shard);
    ListenForWatchClass(this, shard);
  }
  for (const UnaryMethod& method : unary_methods_) {
    CqUnaryCall::Listen(&method, shard);
  }
}

}  // namespace circuit
