#include "server/rpc/circuit_service.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/common/grpc_status.h"
#include "server/common/stats.h"
#include "server/fanout/stream.h"
#include "server/fanout/wire.h"
#include "server/live/class_lookup.h"
#include "server/live/summary.h"
#include "server/rpc/cq_call.h"

namespace circuit {
namespace {

constexpr size_t kMaxIdLength = 64;

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// Parses a request from raw bytes (the streaming RPCs are raw so their
// responses can be shared bytes).
template <typename Message>
bool Parse(grpc::ByteBuffer* bytes, Message* message) {
  grpc::ProtoBufferReader reader(bytes);
  return message->ParseFromZeroCopyStream(&reader);
}

grpc::Status Draining() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "circuitd is shutting down; reconnect and resume");
}

}  // namespace

using BidiResponder =
    grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>;
using WriteResponder = grpc::ServerAsyncWriter<grpc::ByteBuffer>;

// The write side every streaming call shares: a Stream queue in front of
// StartWrite, Finish exactly once, and the clean-up gRPC requires (Finish on
// cancel, delete on done). Created waiting for a call on a shard; OnStarted
// runs when one arrives.
template <class Responder>
class StreamingReactor : public CqStreamCall<Responder>, public StreamSink {
 public:
  StreamingReactor(CircuitServiceImpl* service, CqShard* shard)
      : CqStreamCall<Responder>(shard),
        service_(service),
        stream_(
            std::make_shared<Stream>(service->options_.max_queued_per_stream)),
        bucket_(service->options_.stream_messages_per_second,
                service->options_.stream_message_burst,
                service->clock_->Now()) {
    stream_->Attach(this);
    service_->calls_alive_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock lock(&service_->calls_mu_);
    ++service_->calls_;
  }
  ~StreamingReactor() override {
    if (open_count_ != nullptr) {
      open_count_->fetch_sub(1, std::memory_order_relaxed);
    }
    service_->calls_alive_.fetch_sub(1, std::memory_order_relaxed);
    absl::MutexLock lock(&service_->calls_mu_);
    --service_->calls_;
  }

  void StartWriteBytes(const grpc::ByteBuffer* bytes) override {
    last_write_ns_.store(MonotonicNanos(), std::memory_order_relaxed);
    this->StartWrite(bytes);
  }
  // A batching stream picks what its next write carries on its shard's
  // thread, when that thread gets to it, not when a class actor queued the
  // first message: a shard that is behind (a broadcast to thousands takes
  // it a while) then sends everything that came meanwhile in one write, and
  // one that keeps up sends each message at once. On top of that, it writes
  // at most once per write interval (fixed, or chosen from the load).
  bool DeferWrite() override {
    const int64_t now = MonotonicNanos();
    const int64_t interval =
        absl::ToInt64Nanoseconds(service_->WriteInterval(now));
    if (interval > 0) {
      const int64_t since =
          now - last_write_ns_.load(std::memory_order_relaxed);
      if (since < interval) {
        this->FlushAfter(absl::Nanoseconds(interval - since));
        return true;
      }
    }
    if (this->shard()->OnThread()) return false;
    this->FlushSoon();
    return true;
  }
  void OnFlush() override { stream_->Flush(); }
  void FinishStream(const grpc::Status& status) override {
    MarkFinishing();
    this->Finish(status);
  }
  void AbortStream(const grpc::Status& status) override {
    MarkFinishing();
    this->Finish(status);
    // A client whose receive window is closed never takes the status; the
    // cancel frees the call (OnDone runs) instead of holding it forever.
    this->context()->TryCancel();
  }
  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override {
    stream_->Close(grpc::Status::CANCELLED, /*after_queued=*/false);
  }
  void OnDone() override {
    stream_->OnDone();
    Release();
  }
  // The server is shutting down: no call came, nothing was subscribed.
  void OnNotStarted() override { delete this; }

 protected:
  // Runs once, when the stream is over and no answer from a class actor is
  // still due, before the reactor is deleted.
  virtual void Ended() {}

  // An answer from a class actor is due: the reactor outlives OnDone until
  // it arrives (Release).
  void Hold() { refs_.fetch_add(1); }
  void Release() {
    if (refs_.fetch_sub(1) == 1) {
      Ended();
      delete this;
    }
  }

  // The call arrived: it counts in `count` (open streams of its role, for
  // /metrics) until the reactor is gone.
  void CountOpen(std::atomic<int64_t>* count) {
    open_count_ = count;
    open_count_->fetch_add(1, std::memory_order_relaxed);
  }

  // Starts the next read, unless the stream is finishing (an actor's answer
  // may arrive after the stream was closed from another thread).
  void ReadNext(grpc::ByteBuffer* into) {
    absl::MutexLock lock(&read_mu_);
    if (!finishing_) this->StartRead(into);
  }

  void Fail(const grpc::Status& status) {
    stream_->Close(status, /*after_queued=*/false);
  }

  // False (and the stream failed) when the client sends faster than allowed.
  bool WithinRate() {
    if (bucket_.TryTake(service_->clock_->Now())) return true;
    ProcessStats().rate_limited_messages.fetch_add(1,
                                                   std::memory_order_relaxed);
    Fail(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("more than ",
                                  service_->options_.stream_messages_per_second,
                                  " messages per second on one stream")));
    return false;
  }

  // The start of every OnReadDone: the client's half-close finishes the
  // stream once what is queued is written; a message over the rate, or one
  // that is not a `Request`, fails it. True when `request` holds the next
  // message from `bytes`.
  template <typename Request>
  bool TakeRequest(bool ok, grpc::ByteBuffer* bytes, Request* request) {
    if (!ok) {
      stream_->Close(grpc::Status::OK, /*after_queued=*/true);
      return false;
    }
    if (!WithinRate()) return false;
    if (!Parse(bytes, request)) {
      Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("the message is not a ",
                                     Request::descriptor()->name())));
      return false;
    }
    return true;
  }

  CircuitServiceImpl* const service_;
  const std::shared_ptr<Stream> stream_;
  TokenBucket bucket_;  // only the reactor's one read at a time touches it

 private:
  void MarkFinishing() {
    absl::MutexLock lock(&read_mu_);
    finishing_ = true;
  }

  // One for gRPC (released in OnDone), one per answer due from an actor.
  std::atomic<int> refs_{1};
  std::atomic<int64_t>* open_count_ = nullptr;  // see CountOpen
  // When the last write started (steady clock), for DeferWrite.
  std::atomic<int64_t> last_write_ns_{0};
  // Finish and StartRead never race: Finish is called with the Stream's
  // lock held, then this one; ReadNext takes only this one.
  absl::Mutex read_mu_;
  bool finishing_ ABSL_GUARDED_BY(read_mu_) = false;
};

// RunClass: attach, then commands.
class InstructorReactor : public StreamingReactor<BidiResponder> {
 public:
  // Waits for the next RunClass call on `shard`.
  static void Listen(CircuitServiceImpl* service, CqShard* shard) {
    (new InstructorReactor(service, shard))
        ->CqStreamCall::Listen(
            [service](grpc::ServerContext* context, BidiResponder* responder,
                      grpc::ServerCompletionQueue* cq, void* tag) {
              service->RequestRunClass(context, responder, cq, cq, tag);
            });
  }

  void OnStarted() override {
    Listen(service_, shard());
    CountOpen(&service_->open_instructors_);
    grpc::Status allowed =
        RequireInstructor(*context(), service_->options_.keys);
    if (!allowed.ok()) {
      Fail(allowed);
      return;
    }
    if (service_->draining_.load()) {
      Fail(Draining());
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    v1::RunClassRequest request;
    if (!TakeRequest(ok, &in_, &request)) return;
    if (actor_ == nullptr) {
      if (!request.has_attach()) {
        return Fail(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "the first message must be `attach`"));
      }
      actor_ = service_->registry_->Find(request.attach().class_id());
      if (actor_ == nullptr) {
        return Fail(grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("no class with id ",
                         QuoteForError(request.attach().class_id()))));
      }
      if (request.attach().accept_batches()) stream_->AcceptBatches();
      actor_->AttachInstructor(stream_, request.attach().last_seq());
    } else if (request.has_command()) {
      const v1::InstructorCommand& command = request.command();
      if (command.command_id().empty() ||
          command.command_id().size() > kMaxIdLength) {
        v1::RunClassResponse response;
        v1::CommandResult* result = response.mutable_command_result();
        result->set_command_id(command.command_id().substr(0, kMaxIdLength));
        result->set_code(grpc::StatusCode::INVALID_ARGUMENT);
        result->set_message("command_id must be 1 to 64 characters");
        response.set_server_time_unix_ms(service_->clock_->NowUnixMs());
        stream_->Send(ToByteBuffer(response), Delivery::kReliable);
      } else {
        // The result comes on the stream once the command is journaled.
        actor_->Command(command, stream_);
      }
    } else {
      return Fail(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               "this stream is already attached; send "
                               "commands"));
    }
    StartRead(&in_);
  }

 private:
  using StreamingReactor::StreamingReactor;

  grpc::ByteBuffer in_;
  std::shared_ptr<ClassActor> actor_;
};

// JoinClass: join or resume, then reports.
class ParticipantReactor : public StreamingReactor<BidiResponder> {
 public:
  // Waits for the next JoinClass call on `shard`.
  static void Listen(CircuitServiceImpl* service, CqShard* shard) {
    (new ParticipantReactor(service, shard))
        ->CqStreamCall::Listen(
            [service](grpc::ServerContext* context, BidiResponder* responder,
                      grpc::ServerCompletionQueue* cq, void* tag) {
              service->RequestJoinClass(context, responder, cq, cq, tag);
            });
  }

  void OnStarted() override {
    Listen(service_, shard());
    CountOpen(&service_->open_participants_);
    if (service_->draining_.load()) {
      Fail(Draining());
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    v1::JoinClassRequest request;
    if (!TakeRequest(ok, &in_, &request)) return;
    if (actor_ == nullptr) {
      if (entering_) {
        // A second message before the join or resume was answered.
        return Fail(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "wait for the answer to join or resume"));
      }
      grpc::Status status = Enter(request);
      if (!status.ok()) return Fail(status);
      return;  // reading goes on once the actor answers
    }
    if (request.kind_case() == v1::JoinClassRequest::kLeave) {
      left_ = true;
      actor_->Leave(participant_id_);
      return;
    }
    internal::ReportInput report;
    if (!TakeReport(&request, participant_id_, &report)) {
      return Fail(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                       "already in the class on this stream; send reports"));
    }
    // The ack comes on the stream once the report is journaled; the next
    // report may be read meanwhile.
    actor_->Report(std::move(report), stream_);
    ReadNext(&in_);
  }

 private:
  // Starts a join or resume; OK when the actor was asked (its answer
  // continues in Entered).
  grpc::Status Enter(const v1::JoinClassRequest& request) {
    ClassRegistry* registry = service_->registry_;
    std::shared_ptr<ClassActor> actor;
    if (request.has_join()) {
      if (!service_->join_limiter_.Allow(context()->peer(),
                                         service_->clock_->Now())) {
        ProcessStats().rate_limited_joins.fetch_add(1,
                                                    std::memory_order_relaxed);
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "too many join attempts from this address; try "
                            "again in a minute");
      }
      actor = registry->FindByJoinCode(request.join().join_code());
      if (actor == nullptr) {
        return grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            absl::StrCat("no class with join code ",
                         QuoteForError(request.join().join_code())));
      }
      entering_ = true;
      if (request.join().accept_batches()) stream_->AcceptBatches();
      Hold();
      actor->Join(stream_, request.join(),
                  [this, actor](absl::StatusOr<std::string> seat) {
                    Entered(actor, std::move(seat));
                  });
      return grpc::Status::OK;
    }
    if (request.has_resume()) {
      std::optional<std::string> token = BearerToken(*context());
      if (!token.has_value()) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            "send the resume token as `authorization: "
                            "Bearer <token>` metadata");
      }
      absl::StatusOr<ClassRegistry::Seat> seat = registry->FindSeat(*token);
      if (!seat.ok()) return ToGrpcStatus(seat.status());
      entering_ = true;
      if (request.resume().accept_batches()) stream_->AcceptBatches();
      Hold();
      seat->actor->Resume(
          stream_, seat->participant_id, request.resume().last_seq(),
          [this, actor = seat->actor](absl::StatusOr<std::string> resumed) {
            Entered(actor, std::move(resumed));
          });
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "the first message must be `join` or `resume`");
  }

  // The actor's answer to a join or resume (on its strand).
  void Entered(std::shared_ptr<ClassActor> actor,
               absl::StatusOr<std::string> seat) {
    if (seat.ok()) {
      actor_ = std::move(actor);
      participant_id_ = std::move(*seat);
      ReadNext(&in_);
    } else {
      Fail(ToGrpcStatus(seat.status()));
    }
    Release();
  }

  void Ended() override {
    if (actor_ != nullptr && !left_) {
      actor_->StreamEnded(participant_id_, stream_.get());
    }
  }

  using StreamingReactor::StreamingReactor;

  grpc::ByteBuffer in_;
  // Set once, by Entered, before reading resumes; read by later reads and
  // by Ended (after every answer arrived).
  std::shared_ptr<ClassActor> actor_;
  std::string participant_id_;
  bool entering_ = false;
  bool left_ = false;
};

// WatchClass: one request, then the kiosk's view.
class KioskReactor : public StreamingReactor<WriteResponder> {
 public:
  // Waits for the next WatchClass call on `shard`.
  static void Listen(CircuitServiceImpl* service, CqShard* shard) {
    auto* reactor = new KioskReactor(service, shard);
    reactor->CqStreamCall::Listen(
        [service, reactor](grpc::ServerContext* context,
                           WriteResponder* responder,
                           grpc::ServerCompletionQueue* cq, void* tag) {
          service->RequestWatchClass(context, &reactor->request_bytes_,
                                     responder, cq, cq, tag);
        });
  }

  void OnStarted() override {
    Listen(service_, shard());
    CountOpen(&service_->open_kiosks_);
    CircuitServiceImpl* service = service_;
    grpc::Status allowed =
        RequireInstructorOrKiosk(*context(), service->options_.keys);
    if (!allowed.ok()) {
      Fail(allowed);
      return;
    }
    if (service->draining_.load()) {
      Fail(Draining());
      return;
    }
    v1::WatchClassRequest request;
    if (!Parse(&request_bytes_, &request)) {
      Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the message is not a WatchClassRequest"));
      return;
    }
    std::shared_ptr<ClassActor> actor =
        service->registry_->Find(request.class_id());
    if (actor == nullptr) {
      Fail(grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no class with id ",
                                     QuoteForError(request.class_id()))));
      return;
    }
    if (request.accept_batches()) stream_->AcceptBatches();
    if (KioskPairings* kiosks = service->options_.keys.kiosks;
        kiosks != nullptr) {
      // A paired TV's stream ends when the TV is revoked.
      std::optional<std::string> token = BearerToken(*context());
      std::optional<std::string> kiosk_id =
          token.has_value() ? kiosks->KioskIdOf(*token) : std::nullopt;
      if (kiosk_id.has_value()) kiosks->Track(*kiosk_id, stream_);
    }
    actor->AttachKiosk(stream_, request.last_seq());
  }

 private:
  using StreamingReactor::StreamingReactor;

  grpc::ByteBuffer request_bytes_;
};

CircuitServiceImpl::CircuitServiceImpl(const CircuitLibrary* library,
                                       ClassRegistry* registry,
                                       const Clock* clock,
                                       ServiceOptions options)
    : library_(library),
      registry_(registry),
      clock_(clock),
      options_(std::move(options)),
      join_limiter_(options_.joins_per_second_per_peer,
                    options_.join_burst_per_peer),
      pacer_(options_.pacing) {}

absl::Duration CircuitServiceImpl::WriteInterval(int64_t now_ns) {
  if (options_.write_interval.has_value()) return *options_.write_interval;
  return pacer_.Interval(now_ns, Stream::totals().messages,
                         calls_alive_.load(std::memory_order_relaxed));
}

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
    return Finish(
        context, grpc::Status(grpc::StatusCode::NOT_FOUND,
                              absl::StrCat("no circuit with id ",
                                           QuoteForError(request->circuit_id()),
                                           "; ListCircuits lists "
                                           "them")));
  }
  *response->mutable_circuit() = *circuit;
  for (v1::Exercise& e : library_->ExercisesFor(*circuit)) {
    *response->add_exercises() = std::move(e);
  }
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::CreateClass(
    grpc::CallbackServerContext* context, const v1::CreateClassRequest* request,
    v1::CreateClassResponse* response) {
  grpc::Status allowed = RequireInstructor(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Answered once the class is journaled.
  registry_->Create(request->circuit_id(), request->title(),
                    [reactor, response](absl::StatusOr<v1::ClassInfo> info) {
                      if (!info.ok()) {
                        reactor->Finish(ToGrpcStatus(info.status()));
                        return;
                      }
                      *response->mutable_class_info() = std::move(*info);
                      reactor->Finish(grpc::Status::OK);
                    });
  return reactor;
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetClass(
    grpc::CallbackServerContext* context, const v1::GetClassRequest* request,
    v1::GetClassResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  DescribeClass(
      registry_, clock_, *request,
      [reactor, response](grpc::Status status, v1::GetClassResponse described) {
        if (status.ok()) *response = std::move(described);
        reactor->Finish(status);
      });
  return reactor;
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetClassSummary(
    grpc::CallbackServerContext* context,
    const v1::GetClassSummaryRequest* request, v1::ClassSummary* response) {
  grpc::Status allowed = RequireInstructor(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  return FinishWithSummary(
      context, request->class_id(),
      [response](v1::ClassSummary summary) { *response = std::move(summary); });
}

grpc::ServerUnaryReactor* CircuitServiceImpl::GetWallSummary(
    grpc::CallbackServerContext* context,
    const v1::GetWallSummaryRequest* request, v1::WallSummary* response) {
  grpc::Status allowed = RequireInstructorOrKiosk(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  // Only the wall's view of the summary leaves the server.
  return FinishWithSummary(context, request->class_id(),
                           [response](v1::ClassSummary summary) {
                             *response = WallFromSummary(summary);
                           });
}

grpc::ServerUnaryReactor* CircuitServiceImpl::FinishWithSummary(
    grpc::CallbackServerContext* context, const std::string& class_id,
    absl::AnyInvocable<void(v1::ClassSummary)> fill) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  registry_->Summary(class_id,
                     [reactor, fill = std::move(fill)](
                         absl::StatusOr<v1::ClassSummary> summary) mutable {
                       if (!summary.ok()) {
                         reactor->Finish(ToGrpcStatus(summary.status()));
                         return;
                       }
                       fill(std::move(*summary));
                       reactor->Finish(grpc::Status::OK);
                     });
  return reactor;
}

grpc::ServerUnaryReactor* CircuitServiceImpl::EraseHealthData(
    grpc::CallbackServerContext* context,
    const v1::EraseHealthDataRequest* request,
    v1::EraseHealthDataResponse* /*response*/) {
  grpc::Status allowed = RequireInstructor(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  if (request->participant_id().empty()) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "give the participant_id whose health "
                                        "data to erase"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  registry_->EraseHealthData(request->class_id(), request->participant_id(),
                             [reactor](absl::Status status) {
                               reactor->Finish(ToGrpcStatus(status));
                             });
  return reactor;
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListClasses(
    grpc::CallbackServerContext* context, const v1::ListClassesRequest* request,
    v1::ListClassesResponse* response) {
  grpc::Status allowed = RequireInstructorOrKiosk(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  for (v1::ClassInfo& info : registry_->List(request->include_ended())) {
    *response->add_classes() = std::move(info);
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

grpc::ServerUnaryReactor* CircuitServiceImpl::ApproveKioskPairing(
    grpc::CallbackServerContext* context,
    const v1::ApproveKioskPairingRequest* request, v1::Kiosk* response) {
  grpc::Status allowed = RequireInstructor(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  if (options_.keys.kiosks == nullptr) {
    return Finish(context, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                        "kiosk pairing is off"));
  }
  absl::StatusOr<v1::Kiosk> kiosk =
      options_.keys.kiosks->Approve(request->pairing_code(), request->name());
  if (!kiosk.ok()) return Finish(context, ToGrpcStatus(kiosk.status()));
  *response = std::move(*kiosk);
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::ListKiosks(
    grpc::CallbackServerContext* context, const v1::ListKiosksRequest*,
    v1::ListKiosksResponse* response) {
  grpc::Status allowed = RequireInstructor(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  if (options_.keys.kiosks != nullptr) {
    for (v1::Kiosk& kiosk : options_.keys.kiosks->List()) {
      *response->add_kiosks() = std::move(kiosk);
    }
  }
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CircuitServiceImpl::RevokeKiosk(
    grpc::CallbackServerContext* context, const v1::RevokeKioskRequest* request,
    v1::Kiosk* response) {
  grpc::Status allowed = RequireInstructor(*context, options_.keys);
  if (!allowed.ok()) return Finish(context, allowed);
  if (options_.keys.kiosks == nullptr) {
    return Finish(
        context,
        grpc::Status(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("no kiosk with id ",
                                  QuoteForError(request->kiosk_id()))));
  }
  absl::StatusOr<v1::Kiosk> kiosk =
      options_.keys.kiosks->Revoke(request->kiosk_id());
  if (!kiosk.ok()) return Finish(context, ToGrpcStatus(kiosk.status()));
  *response = std::move(*kiosk);
  return Finish(context, grpc::Status::OK);
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
    InstructorReactor::Listen(this, shard);
    ParticipantReactor::Listen(this, shard);
    KioskReactor::Listen(this, shard);
  }
}

}  // namespace circuit
