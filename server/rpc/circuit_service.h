#ifndef CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_
#define CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "circuit/v1/service.grpc.pb.h"
#include "server/common/clock.h"
#include "server/fanout/write_pacer.h"
#include "server/library/circuit_library.h"
#include "server/live/class_registry.h"
#include "server/rpc/auth.h"
#include "server/rpc/cq_call.h"

namespace circuit {

struct ServiceOptions {
  AccessKeys keys;
  // Joins per peer address: a burst, then a steady rate.
  double joins_per_second_per_peer = 2;
  double join_burst_per_peer = 40;
  // Messages a client may send on one stream: a burst, then a steady rate.
  double stream_messages_per_second = 20;
  double stream_message_burst = 60;
  // Messages that may wait behind a stream's write before the reader is
  // judged too slow and disconnected.
  size_t max_queued_per_stream = 512;
  // A stream that accepts batches writes at most once per this interval;
  // messages that come sooner wait and share the next write. Zero: every
  // message is written as soon as the previous write is done. Unset: the
  // interval follows the load, as `pacing` says (WritePacer).
  std::optional<absl::Duration> write_interval;
  WritePacer::Options pacing;
};

// The three streaming RPCs take raw bytes so that a broadcast is serialized
// once and the same bytes go to every stream, and run on the completion-queue
// API (server/rpc/cq_call.h); the unary RPCs on the callback API.
using CircuitServiceBase = v1::CircuitService::WithCallbackMethod_ListCircuits<
    v1::CircuitService::WithCallbackMethod_GetCircuit<
        v1::CircuitService::WithCallbackMethod_CreateClass<
            v1::CircuitService::WithCallbackMethod_GetClass<
                v1::CircuitService::WithCallbackMethod_ListClasses<
                    v1::CircuitService::WithCallbackMethod_GetClock<
                        v1::CircuitService::WithRawMethod_RunClass<
                            v1::CircuitService::WithRawMethod_JoinClass<
                                v1::CircuitService::WithRawMethod_WatchClass<
                                    v1::CircuitService::WithCallbackMethod_GetClassSummary<
                                        v1::CircuitService::
                                            WithCallbackMethod_GetWallSummary<
                                                v1::CircuitService::WithCallbackMethod_EraseHealthData<
                                                    v1::CircuitService::WithCallbackMethod_ApproveKioskPairing<
                                                        v1::CircuitService::
                                                            WithCallbackMethod_ListKiosks<
                                                                v1::CircuitService::WithCallbackMethod_RevokeKiosk<
                                                                    v1::CircuitService::
                                                                        Service>>>>>>>>>>>>>>>;

// circuit.v1.CircuitService: a thin adapter from gRPC to the class registry
// and its class actors. Validates credentials and input shape, converts
// statuses, and runs the stream reactors. No handler blocks. Thread-safe.
class CircuitServiceImpl final : public CircuitServiceBase {
 public:
  // Everything passed in must outlive the service.
  CircuitServiceImpl(const CircuitLibrary* library, ClassRegistry* registry,
                     const Clock* clock, ServiceOptions options);

  // New streams are refused with UNAVAILABLE from now on (shutdown).
  void StartDraining() { draining_.store(true); }

  grpc::ServerUnaryReactor* ListCircuits(
      grpc::CallbackServerContext* context,
      const v1::ListCircuitsRequest* request,
      v1::ListCircuitsResponse* response) override;
  grpc::ServerUnaryReactor* GetCircuit(
      grpc::CallbackServerContext* context,
      const v1::GetCircuitRequest* request,
      v1::GetCircuitResponse* response) override;
  grpc::ServerUnaryReactor* CreateClass(
      grpc::CallbackServerContext* context,
      const v1::CreateClassRequest* request,
      v1::CreateClassResponse* response) override;
  grpc::ServerUnaryReactor* GetClass(grpc::CallbackServerContext* context,
                                     const v1::GetClassRequest* request,
                                     v1::GetClassResponse* response) override;
  grpc::ServerUnaryReactor* ListClasses(
      grpc::CallbackServerContext* context,
      const v1::ListClassesRequest* request,
      v1::ListClassesResponse* response) override;
  grpc::ServerUnaryReactor* GetClock(grpc::CallbackServerContext* context,
                                     const v1::GetClockRequest* request,
                                     v1::GetClockResponse* response) override;

  grpc::ServerUnaryReactor* GetClassSummary(
      grpc::CallbackServerContext* context,
      const v1::GetClassSummaryRequest* request,
      v1::ClassSummary* response) override;
  grpc::ServerUnaryReactor* GetWallSummary(
      grpc::CallbackServerContext* context,
      const v1::GetWallSummaryRequest* request,
      v1::WallSummary* response) override;
  grpc::ServerUnaryReactor* EraseHealthData(
      grpc::CallbackServerContext* context,
      const v1::EraseHealthDataRequest* request,
      v1::EraseHealthDataResponse* response) override;
  grpc::ServerUnaryReactor* ApproveKioskPairing(
      grpc::CallbackServerContext* context,
      const v1::ApproveKioskPairingRequest* request,
      v1::Kiosk* response) override;
  grpc::ServerUnaryReactor* ListKiosks(
      grpc::CallbackServerContext* context,
      const v1::ListKiosksRequest* request,
      v1::ListKiosksResponse* response) override;
  grpc::ServerUnaryReactor* RevokeKiosk(grpc::CallbackServerContext* context,
                                        const v1::RevokeKioskRequest* request,
                                        v1::Kiosk* response) override;

  // Joins per device address, shared with the HTTP API.
  PeerRateLimiter* join_limiter() { return &join_limiter_; }

  // Serves RunClass, JoinClass and WatchClass calls on `shard`, with
  // `calls_waiting` of each asked for at a time. Call once per shard, after
  // the server started and before the shard's thread does.
  void ServeStreamsOn(CqShard* shard, int calls_waiting);

  // Once the server has shut down (every call is over or cancelled): waits
  // until every streaming call object is gone, those that never got a call
  // and those whose last answer from a class actor was still due. False when
  // some are left at `deadline`.
  bool WaitForStreamsGone(absl::Time deadline) ABSL_LOCKS_EXCLUDED(calls_mu_);

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

  // Answers with the class's summary, live or stored, turned into the
  // response by `fill` (NOT_FOUND for an unknown class).
  grpc::ServerUnaryReactor* FinishWithSummary(
      grpc::CallbackServerContext* context, const std::string& class_id,
      absl::AnyInvocable<void(v1::ClassSummary)> fill);
  friend class InstructorReactor;
  friend class ParticipantReactor;
  friend class KioskReactor;

  const CircuitLibrary* const library_;
  ClassRegistry* const registry_;
  const Clock* const clock_;
  const ServiceOptions options_;
  PeerRateLimiter join_limiter_;
  // Read by every new stream, set once at shutdown.
  std::atomic<bool> draining_{false};
  // Streaming call objects alive (waiting for a call, or serving one).
  absl::Mutex calls_mu_;
  int calls_ ABSL_GUARDED_BY(calls_mu_) = 0;
  // The same count, for the pacer (read on every write).
  std::atomic<int64_t> calls_alive_{0};
  std::atomic<int64_t> open_instructors_{0};
  std::atomic<int64_t> open_participants_{0};
  std::atomic<int64_t> open_kiosks_{0};
  WritePacer pacer_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_RPC_CIRCUIT_SERVICE_H_
