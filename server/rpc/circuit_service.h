#ifndef CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_
#define CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "server/auth/credential_streams.h"
#include "server/auth/sign_ins.h"
#include "server/common/clock.h"
#include "server/common/rate_limit.h"
#include "server/fanout/stream.h"
#include "server/fanout/write_pacer.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"
#include "server/live/limits.h"
#include "server/rpc/auth.h"
#include "server/rpc/cq_call.h"
#include "server/rpc/unary_call.h"

namespace circuit {

struct ServiceOptions {
  AccessKeys keys;
  // Accounts and signing keys (keys.accounts is the same, read-only). Null:
  // the bootstrap and kiosk keys only.
  Accounts* accounts = nullptr;
  // Sign-in codes and console credentials. Null: IssueSignInCode and SignIn
  // answer UNAVAILABLE.
  SignIns* sign_ins = nullptr;
  // Where account, console and class credentials' streams are tracked, so a
  // revoke ends them (shared with the HTTP door). Null: not tracked.
  CredentialStreams* credential_streams = nullptr;
  // The rates of the limits shared with the HTTP door (SharedLimits, built
  // from these by server/app/ and handed to both).
  // Joins per peer address: a burst, then a steady rate.
  double joins_per_second_per_peer = 2;
  double join_burst_per_peer = 40;
  // A join or resume refused for coming too fast from its address is
  // answered this long after it came (real time, on gRPC's alarm), so a
  // client that retries at once waits instead of costing circuitd a stream a
  // few hundred times a second. At most `max_delayed_refusals` wait at once
  // (ProcessStats().delayed_refusals); beyond that, or with a zero delay, the
  // refusal is answered at once.
  absl::Duration refusal_delay = absl::Seconds(1);
  int max_delayed_refusals = 1'000;
  // Look-ups of a class by join code (GetClass, GET
  // /v1/classes:byJoinCode/...) per peer address, so nobody finds live codes
  // by trying them: a burst, then a steady rate.
  double lookups_per_second_per_peer = 5;
  double lookup_burst_per_peer = 60;
  // Messages a client may send: a burst, then a steady rate. An
  // instructor's budget is its stream's; a participant's is its seat's,
  // across every stream and resume of that seat (its join or resume is
  // counted per address instead, with joins).
  double stream_messages_per_second = 20;
  double stream_message_burst = 60;
  // A RunClass or JoinClass stream whose first message has not come this
  // long after it opened is ended with DEADLINE_EXCEEDED (real time, on
  // gRPC's alarm; InfiniteDuration: never).
  absl::Duration first_message_timeout = absl::Seconds(10);
  // Messages that may wait behind a stream's write before the reader is
  // judged too slow and disconnected.
  size_t max_queued_per_stream = 512;
  // The same for an instructor's console (RunClass): deeper, since a class
  // has few of them and every join, report and plan item goes to each; a
  // join rush of thousands must not cut the coach off. Messages are shared
  // bytes, so a deep queue costs little.
  size_t max_queued_per_console = 16384;
  // A stream that accepts batches writes at most once per this interval;
  // messages that come sooner wait and share the next write. Zero: every
  // message is written as soon as the previous write is done. Unset: the
  // interval follows the load, as `pacing` says (WritePacer).
  std::optional<absl::Duration> write_interval;
  WritePacer::Options pacing;
};

// `Base` with each of `Methods` applied around it, first outermost.
template <class Base, template <class> class... Methods>
struct WithMethods {
  using type = Base;
};
template <class Base, template <class> class First,
          template <class> class... Rest>
struct WithMethods<Base, First, Rest...> {
  using type = First<typename WithMethods<Base, Rest...>::type>;
};

// Every RPC takes raw bytes and runs on the completion-queue shards
// (server/rpc/cq_call.h). The streaming RPCs, so that a broadcast is
// serialized once and the same bytes go to every stream; the unary RPCs parse
// their requests themselves (server/rpc/unary_call.h), so that a request
// that does not parse gets INVALID_ARGUMENT and a message.
using CircuitServiceBase =
    WithMethods<v1::CircuitService::Service,
                v1::CircuitService::WithRawMethod_ListCircuits,
                v1::CircuitService::WithRawMethod_GetCircuit,
                v1::CircuitService::WithRawMethod_CreateClass,
                v1::CircuitService::WithRawMethod_GetClass,
                v1::CircuitService::WithRawMethod_ListClasses,
                v1::CircuitService::WithRawMethod_GetClock,
                v1::CircuitService::WithRawMethod_RunClass,
                v1::CircuitService::WithRawMethod_JoinClass,
                v1::CircuitService::WithRawMethod_WatchClass,
                v1::CircuitService::WithRawMethod_GetClassSummary,
                v1::CircuitService::WithRawMethod_GetWallSummary,
                v1::CircuitService::WithRawMethod_EraseHealthData,
                v1::CircuitService::WithRawMethod_ApproveKioskPairing,
                v1::CircuitService::WithRawMethod_ListKiosks,
                v1::CircuitService::WithRawMethod_RevokeKiosk,
                v1::CircuitService::WithRawMethod_AddAccount,
                v1::CircuitService::WithRawMethod_ListAccounts,
                v1::CircuitService::WithRawMethod_RevokeAccount,
                v1::CircuitService::WithRawMethod_ReissueAccountCredential,
                v1::CircuitService::WithRawMethod_IssueClassCredential,
                v1::CircuitService::WithRawMethod_IssueSignInCode,
                v1::CircuitService::WithRawMethod_SignIn,
                v1::CircuitService::WithRawMethod_RotateSigningKey,
                v1::CircuitService::WithRawMethod_RetireSigningKey,
                v1::CircuitService::WithRawMethod_GetMyProfile,
                v1::CircuitService::WithRawMethod_UpdateMyProfile,
                v1::CircuitService::WithRawMethod_GetMyData,
                v1::CircuitService::WithRawMethod_EraseMyData,
                v1::CircuitService::WithRawMethod_RevokeProfileCredential,
                v1::CircuitService::WithRawMethod_GetProgress>::type;

// circuit.v1.CircuitService: a thin adapter from gRPC to the class registry
// and its class actors. Validates credentials and input shape, converts
// statuses, and runs the stream reactors. No handler blocks. Thread-safe.
class CircuitServiceImpl final : public CircuitServiceBase {
 public:
  // Everything passed in must outlive the service. `limits` are shared with
  // the HTTP door.
  CircuitServiceImpl(const CircuitLibrary* library, ClassRegistry* registry,
                     const Clock* clock, SharedLimits* limits,
                     ServiceOptions options);

  // New streams are refused with UNAVAILABLE from now on (shutdown).
  void StartDraining() { draining_.store(true); }

  // Serves every method on `shard`: `calls_waiting` calls of each
  // streaming method asked for at a time, and one of each unary method (each
  // call that arrives asks for the next). Call once per shard, once the
  // server is built.
  void ServeOn(CqShard* shard, int calls_waiting);

  // Once the server has shut down (every call is over or cancelled): waits
  // until every call object is gone, those that never got a call and those
  // whose last answer from a class actor was still due. False when some are
  // left at `deadline`.
  bool WaitForCallsGone(absl::Time deadline);

  // A RunClass or WatchClass stream opened with an account or class
  // credential (`token`): it ends (UNAUTHENTICATED) once the credential stops
  // verifying because its account was revoked or reissued or its signing key
  // retired, not at the stream's next reconnect.
  void TrackCredential(const Principal& who,
                       const grpc::ServerContextBase& context,
                       std::weak_ptr<Stream> stream);

  // Streams open now, by role (for /metrics).
  struct OpenStreams {
    int64_t instructors = 0;
    int64_t participants = 0;
    int64_t kiosks = 0;
  };
  OpenStreams open_streams() const {
    return {open_instructors_.load(std::memory_order_relaxed),
            open_participants_.load(std::memory_order_relaxed),
            open_kiosks_.load(std::memory_order_relaxed)};
  }

 private:
  template <class Responder>
  friend class StreamingReactor;

  // How long a batching stream waits between writes now (`now_ns`: a
  // steady clock's reading).
  absl::Duration WriteInterval(int64_t now_ns);

  // The unary RPCs' handlers, called on a shard's thread with the parsed
  // request; each answers through `reply`, now or later from any thread.
  void ServeListCircuits(grpc::ServerContext* context,
                         const v1::ListCircuitsRequest& request,
                         UnaryReply<v1::ListCircuitsResponse> reply);
  void ServeGetCircuit(grpc::ServerContext* context,
                       const v1::GetCircuitRequest& request,
                       UnaryReply<v1::GetCircuitResponse> reply);
  void ServeCreateClass(grpc::ServerContext* context,
                        const v1::CreateClassRequest& request,
                        UnaryReply<v1::CreateClassResponse> reply);
  void ServeGetClass(grpc::ServerContext* context,
                     const v1::GetClassRequest& request,
                     UnaryReply<v1::GetClassResponse> reply);
  void ServeListClasses(grpc::ServerContext* context,
                        const v1::ListClassesRequest& request,
                        UnaryReply<v1::ListClassesResponse> reply);
  void ServeGetClock(grpc::ServerContext* context,
                     const v1::GetClockRequest& request,
                     UnaryReply<v1::GetClockResponse> reply);
  void ServeGetClassSummary(grpc::ServerContext* context,
                            const v1::GetClassSummaryRequest& request,
                            UnaryReply<v1::ClassSummary> reply);
  void ServeGetWallSummary(grpc::ServerContext* context,
                           const v1::GetWallSummaryRequest& request,
                           UnaryReply<v1::WallSummary> reply);
  void ServeEraseHealthData(grpc::ServerContext* context,
                            const v1::EraseHealthDataRequest& request,
                            UnaryReply<v1::EraseHealthDataResponse> reply);
  void ServeApproveKioskPairing(grpc::ServerContext* context,
                                const v1::ApproveKioskPairingRequest& request,
                                UnaryReply<v1::Kiosk> reply);
  void ServeListKiosks(grpc::ServerContext* context,
                       const v1::ListKiosksRequest& request,
                       UnaryReply<v1::ListKiosksResponse> reply);
  void ServeRevokeKiosk(grpc::ServerContext* context,
                        const v1::RevokeKioskRequest& request,
                        UnaryReply<v1::Kiosk> reply);
  void ServeAddAccount(grpc::ServerContext* context,
                       const v1::AddAccountRequest& request,
                       UnaryReply<v1::AccountCredential> reply);
  void ServeListAccounts(grpc::ServerContext* context,
                         const v1::ListAccountsRequest& request,
                         UnaryReply<v1::ListAccountsResponse> reply);
  void ServeRevokeAccount(grpc::ServerContext* context,
                          const v1::RevokeAccountRequest& request,
                          UnaryReply<v1::Account> reply);
  void ServeReissueAccountCredential(
      grpc::ServerContext* context,
      const v1::ReissueAccountCredentialRequest& request,
      UnaryReply<v1::AccountCredential> reply);
  void ServeIssueClassCredential(grpc::ServerContext* context,
                                 const v1::IssueClassCredentialRequest& request,
                                 UnaryReply<v1::ClassCredential> reply);
  void ServeIssueSignInCode(grpc::ServerContext* context,
                            const v1::IssueSignInCodeRequest& request,
                            UnaryReply<v1::SignInCode> reply);
  void ServeSignIn(grpc::ServerContext* context,
                   const v1::SignInRequest& request,
                   UnaryReply<v1::SignInResponse> reply);
  void ServeRotateSigningKey(grpc::ServerContext* context,
                             const v1::RotateSigningKeyRequest& request,
                             UnaryReply<v1::SigningKeys> reply);
  void ServeRetireSigningKey(grpc::ServerContext* context,
                             const v1::RetireSigningKeyRequest& request,
                             UnaryReply<v1::SigningKeys> reply);
  // Kept profiles (profile_handlers.cc).
  void ServeGetMyProfile(grpc::ServerContext* context,
                         const v1::GetMyProfileRequest& request,
                         UnaryReply<v1::Profile> reply);
  void ServeUpdateMyProfile(grpc::ServerContext* context,
                            const v1::UpdateMyProfileRequest& request,
                            UnaryReply<v1::Profile> reply);
  void ServeGetMyData(grpc::ServerContext* context,
                      const v1::GetMyDataRequest& request,
                      UnaryReply<v1::MyData> reply);
  void ServeEraseMyData(grpc::ServerContext* context,
                        const v1::EraseMyDataRequest& request,
                        UnaryReply<v1::EraseMyDataResponse> reply);
  void ServeRevokeProfileCredential(
      grpc::ServerContext* context,
      const v1::RevokeProfileCredentialRequest& request,
      UnaryReply<v1::Profile> reply);
  void ServeGetProgress(grpc::ServerContext* context,
                        const v1::GetProgressRequest& request,
                        UnaryReply<v1::Progress> reply);

  // Authenticates the call and asks `may` whether the caller may do this to
  // the class (NOT_FOUND for an unknown class). The caller into `who`.
  grpc::Status ClassAccess(const grpc::ServerContextBase& context,
                           const std::string& class_id,
                           absl::Status (*may)(const Principal&,
                                               const v1::ClassInfo&),
                           Principal* who = nullptr);
  // Authenticates the call; UNAVAILABLE when the server keeps no accounts.
  grpc::Status AccountsFor(const grpc::ServerContextBase& context,
                           Principal* who) const;
  // AccountsFor, and whether the caller may manage that account.
  grpc::Status ManagedAccount(const grpc::ServerContextBase& context,
                              const std::string& account_id,
                              Principal* who) const;

  // Calls `done` with the class's summary, live or stored (NOT_FOUND for an
  // unknown class).
  void Summarize(const std::string& class_id,
                 absl::AnyInvocable<void(grpc::Status, v1::ClassSummary)> done);
  friend class InstructorReactor;
  friend class ParticipantReactor;
  friend class KioskReactor;

  const CircuitLibrary* const library_;
  ClassRegistry* const registry_;
  const Clock* const clock_;
  // Joins and resumes per address, look-ups by join code, and each seat's
  // message budget: counted with the HTTP door's.
  SharedLimits* const limits_;
  const ServiceOptions options_;
  // Read by every new stream, set once at shutdown.
  std::atomic<bool> draining_{false};
  // Call objects alive, streaming and unary (waiting for a call, or serving
  // one).
  Outstanding calls_;
  // The unary methods, served on every shard.
  std::vector<UnaryMethod> unary_methods_;
  // Ends the tracked streams whose credential no longer verifies.
  void EndStreamsOfDeadCredentials();
  // Streaming call objects alive, for the pacer (read on every write).
  std::atomic<int64_t> calls_alive_{0};
  std::atomic<int64_t> open_instructors_{0};
  std::atomic<int64_t> open_participants_{0};
  std::atomic<int64_t> open_kiosks_{0};
  WritePacer pacer_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_
