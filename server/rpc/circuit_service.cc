#include "server/rpc/circuit_service.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/common/grpc_status.h"
#include "server/common/log.h"
#include "server/common/rate_limit.h"
#include "server/common/stats.h"
#include "server/engine/report_validation.h"
#include "server/fanout/stream.h"
#include "server/fanout/wire.h"
#include "server/live/class_lookup.h"
#include "server/live/summary.h"
#include "server/rpc/cq_call.h"

namespace circuit {
namespace {

// Kiosks paired before studios existed belong to the default one.
std::string KioskStudio(const v1::Kiosk& kiosk) {
  return kiosk.studio_id().empty() ? kDefaultStudio : kiosk.studio_id();
}

constexpr size_t kMaxIdLength = 64;

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
        bucket_(std::make_shared<KeyedTokenBuckets::Bucket>(
            service->options_.stream_messages_per_second,
            service->options_.stream_message_burst, service->clock_->Now())) {
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
    // Their answers (ok false) release the reactor.
    if (first_message_due_) first_message_alarm_.Cancel();
    if (refusal_due_) refusal_alarm_->Cancel();
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

  // Fails the stream with `status` once the service's refusal delay has
  // passed: a client that retries as soon as it is refused waits instead of
  // costing a stream each time. At once when the delay is zero or too many
  // refusals are waiting already (they hold a call each). On the shard's
  // thread, with no read started.
  void FailLater(const grpc::Status& status) {
    const absl::Duration delay = service_->options_.refusal_delay;
    if (delay <= absl::ZeroDuration() ||
        ProcessStats().delayed_refusals.fetch_add(1,
                                                  std::memory_order_relaxed) >=
            service_->options_.max_delayed_refusals) {
      if (delay > absl::ZeroDuration()) {
        ProcessStats().delayed_refusals.fetch_sub(1, std::memory_order_relaxed);
      }
      return Fail(status);
    }
    refusal_ = status;
    refusal_due_ = true;
    Hold();  // released when the alarm answers, fired or cancelled
    refusal_alarm_ = std::make_unique<grpc::Alarm>();
    refusal_alarm_->Set(this->shard()->cq(), GprDeadline(delay), &refusal_tag_);
  }

  // Ends the stream unless its first message is read within the service's
  // first-message timeout (a stream that never speaks holds a call, and its
  // memory, for nothing). Call in OnStarted, on the shard's thread.
  void AwaitFirstMessage() {
    const absl::Duration timeout = service_->options_.first_message_timeout;
    if (timeout == absl::InfiniteDuration()) return;
    awaiting_first_ = true;
    first_message_due_ = true;
    Hold();  // released when the alarm answers, fired or cancelled
    first_message_alarm_.Set(this->shard()->cq(), GprDeadline(timeout),
                             &first_message_tag_);
  }

  // The first read completed (a message, or the client's half-close). On the
  // shard's thread, in OnReadDone.
  void FirstMessageCame() {
    if (!awaiting_first_) return;
    awaiting_first_ = false;
    first_message_alarm_.Cancel();
  }

  // From now on the client's messages are counted in `bucket` (shared with
  // the other streams of the same sender), and a refusal names `scope`.
  // Between two reads only.
  void CountMessagesIn(std::shared_ptr<KeyedTokenBuckets::Bucket> bucket,
                       const char* scope) {
    bucket_ = std::move(bucket);
    rate_scope_ = scope;
  }

  // False (and the stream failed) when the client sends faster than allowed.
  bool WithinRate() {
    if (bucket_->TryTake(service_->clock_->Now())) return true;
    ProcessStats().rate_limited_messages.fetch_add(1,
                                                   std::memory_order_relaxed);
    Fail(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("more than ",
                     service_->options_.stream_messages_per_second,
                     " messages per second ", rate_scope_, " (burst ",
                     service_->options_.stream_message_burst,
                     "); slow down, then resume")));
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

 private:
  // An alarm's answer, on the shard's thread: `On(fired)`, fired false when
  // the alarm was cancelled.
  template <void (StreamingReactor::*On)(bool)>
  class AlarmDue final : public CqTag {
   public:
    explicit AlarmDue(StreamingReactor* reactor) : reactor_(reactor) {}
    void Proceed(bool fired) override { (reactor_->*On)(fired); }

   private:
    StreamingReactor* const reactor_;
  };

  void OnFirstMessageDue(bool fired) {
    first_message_due_ = false;
    if (fired && awaiting_first_) {
      awaiting_first_ = false;
      Fail(grpc::Status(
          grpc::StatusCode::DEADLINE_EXCEEDED,
          absl::StrCat(
              "no first message within ",
              absl::FormatDuration(service_->options_.first_message_timeout),
              " of opening the stream")));
    }
    Release();
  }

  void OnRefusalDue(bool fired) {
    refusal_due_ = false;
    ProcessStats().delayed_refusals.fetch_sub(1, std::memory_order_relaxed);
    if (fired) Fail(refusal_);
    Release();
  }

  // `delay` from now on gRPC's monotonic clock, for an alarm.
  static gpr_timespec GprDeadline(absl::Duration delay) {
    return gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC),
        gpr_time_from_micros(absl::ToInt64Microseconds(delay), GPR_TIMESPAN));
  }

  void MarkFinishing() {
    absl::MutexLock lock(&read_mu_);
    finishing_ = true;
  }

  // Only the reactor's one read at a time touches these: a stream's own
  // bucket, or (CountMessagesIn) a participant's seat's.
  std::shared_ptr<KeyedTokenBuckets::Bucket> bucket_;
  const char* rate_scope_ = "on one stream";
  // The first-message deadline; these are touched on the shard's thread
  // only.
  grpc::Alarm first_message_alarm_;
  AlarmDue<&StreamingReactor::OnFirstMessageDue> first_message_tag_{this};
  bool awaiting_first_ = false;     // no read has completed yet
  bool first_message_due_ = false;  // the alarm has not answered yet
  // A refusal waiting out the refusal delay (FailLater); made only then,
  // since an alarm allocates. On the shard's thread only.
  std::unique_ptr<grpc::Alarm> refusal_alarm_;
  AlarmDue<&StreamingReactor::OnRefusalDue> refusal_tag_{this};
  grpc::Status refusal_;
  bool refusal_due_ = false;  // the alarm has not answered yet

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
        Authenticate(*context(), service_->options_.keys, &who_);
    if (allowed.ok() && who_.role == Principal::Role::kKiosk) {
      allowed = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                             "a kiosk credential cannot run a class");
    }
    if (!allowed.ok()) {
      Fail(allowed);
      return;
    }
    if (service_->draining_.load()) {
      Fail(Draining());
      return;
    }
    AwaitFirstMessage();
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    FirstMessageCame();
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
      if (absl::Status may = MayRunClass(who_, actor_->Info()); !may.ok()) {
        actor_ = nullptr;
        return Fail(ToGrpcStatus(may));
      }
      if (request.attach().accept_batches()) stream_->AcceptBatches();
      service_->TrackCredential(who_, *context(), stream_);
      actor_->AttachInstructor(stream_, request.attach().last_seq());
    } else if (request.has_command()) {
      const v1::InstructorCommand& command = request.command();
      if (command.command_id().empty() ||
          command.command_id().size() > kMaxIdLength) {
        stream_->Send(
            EncodeCommandResult(
                CommandResultFor(command.command_id().substr(0, kMaxIdLength),
                                 absl::InvalidArgumentError(
                                     "command_id must be 1 to 64 characters")),
                service_->clock_->NowUnixMs()),
            Delivery::kReliable);
      } else {
        // The result comes on the stream once the command is journaled (on
        // the actor's strand, so in order with the class's events).
        actor_->Command(
            command, [stream = stream_, clock = service_->clock_,
                      id = command.command_id()](absl::StatusOr<int64_t> seq) {
              stream->Send(EncodeCommandResult(CommandResultFor(id, seq),
                                               clock->NowUnixMs()),
                           Delivery::kReliable);
            });
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
  Principal who_;  // set when the call starts
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
    AwaitFirstMessage();
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    FirstMessageCame();
    v1::JoinClassRequest request;
    if (!TakeRequest(ok, &in_, &request)) return;
    if (actor_ == nullptr) {
      if (entering_) {
        // A second message before the join or resume was answered.
        return Fail(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "wait for the answer to join or resume"));
      }
      if (grpc::Status allowed = EntryAllowed(request); !allowed.ok()) {
        return FailLater(allowed);
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
    std::string id = engine::ReportId(report);  // before the report moves
    actor_->Report(
        std::move(report),
        [stream = stream_, clock = service_->clock_,
         id = std::move(id)](absl::StatusOr<engine::ReportResult> outcome) {
          stream->Send(
              EncodeReportAck(ReportAckFor(id, outcome), clock->NowUnixMs()),
              Delivery::kReliable);
        });
    ReadNext(&in_);
  }

 private:
  // RESOURCE_EXHAUSTED when the join or resume comes too soon after others
  // from the same address. Joins and resumes share one budget per address: a
  // client cut for sending too fast cannot resume (with a snapshot) as fast
  // as it likes.
  grpc::Status EntryAllowed(const v1::JoinClassRequest& request) {
    if ((request.has_join() || request.has_resume()) &&
        !service_->limits_->joins()->Allow(context()->peer(),
                                           service_->clock_->Now())) {
      ProcessStats().rate_limited_joins.fetch_add(1, std::memory_order_relaxed);
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          request.has_join()
                              ? "too many join attempts from this address "
                                "(joins and resumes count together); try "
                                "again in a minute"
                              : "too many resume attempts from this address "
                                "(joins and resumes count together); try "
                                "again in a minute");
    }
    return grpc::Status::OK;
  }

  // Starts a join or resume; OK when the actor was asked (its answer
  // continues in Entered).
  grpc::Status Enter(const v1::JoinClassRequest& request) {
    ClassRegistry* registry = service_->registry_;
    std::shared_ptr<ClassActor> actor;
    if (request.has_join()) {
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
      // The seat's budget, not this stream's: resuming does not refill it.
      CountMessagesIn(service_->limits_->seat_messages()->Get(
                          SeatBudgetKey(actor_->class_id(), participant_id_),
                          service_->clock_->Now()),
                      "from one participant, whichever stream it uses "
                      "(gRPC and HTTP together)");
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
    Principal who;
    grpc::Status allowed =
        Authenticate(*context(), service->options_.keys, &who);
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
    if (absl::Status may = MayWatchClass(who, actor->Info()); !may.ok()) {
      Fail(ToGrpcStatus(may));
      return;
    }
    if (request.accept_batches()) stream_->AcceptBatches();
    if (KioskPairings* kiosks = service->options_.keys.kiosks;
        kiosks != nullptr && who.role == Principal::Role::kKiosk &&
        who.subject != "studio-kiosk") {
      // A paired TV's stream ends when the TV is revoked.
      kiosks->Track(who.subject, stream_);
    }
    service->TrackCredential(who, *context(), stream_);
    actor->AttachKiosk(stream_, request.last_seq());
  }

 private:
  using StreamingReactor::StreamingReactor;

  grpc::ByteBuffer request_bytes_;
};

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

void CircuitServiceImpl::ServeListCircuits(
    grpc::CallbackServerContext*, const v1::ListCircuitsRequest&,
    UnaryReply<v1::ListCircuitsResponse> reply) {
  v1::ListCircuitsResponse response;
  for (const v1::Circuit& c : library_->circuits()) {
    *response.add_circuits() = c;
  }
  for (const v1::Exercise& e : library_->exercises()) {
    *response.add_exercises() = e;
  }
  reply.Ok(response);
}

void CircuitServiceImpl::ServeGetCircuit(
    grpc::CallbackServerContext*, const v1::GetCircuitRequest& request,
    UnaryReply<v1::GetCircuitResponse> reply) {
  const v1::Circuit* circuit = library_->FindCircuit(request.circuit_id());
  if (circuit == nullptr) {
    reply.Fail(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no circuit with id ", QuoteForError(request.circuit_id()),
                     "; ListCircuits lists them")));
    return;
  }
  v1::GetCircuitResponse response;
  *response.mutable_circuit() = *circuit;
  for (v1::Exercise& e : library_->ExercisesFor(*circuit)) {
    *response.add_exercises() = std::move(e);
  }
  reply.Ok(response);
}

void CircuitServiceImpl::ServeCreateClass(
    grpc::CallbackServerContext* context, const v1::CreateClassRequest& request,
    UnaryReply<v1::CreateClassResponse> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayCreateClass(who));
  if (!allowed.ok()) return reply.Fail(allowed);
  // Answered once the class is journaled.
  registry_->Create(request.circuit_id(), request.title(), StudioOf(who),
                    who.subject, [reply](absl::StatusOr<v1::ClassInfo> info) {
                      if (!info.ok()) {
                        reply.Fail(ToGrpcStatus(info.status()));
                        return;
                      }
                      v1::CreateClassResponse response;
                      *response.mutable_class_info() = std::move(*info);
                      reply.Ok(response);
                    });
}

void CircuitServiceImpl::ServeGetClass(grpc::CallbackServerContext* context,
                                       const v1::GetClassRequest& request,
                                       UnaryReply<v1::GetClassResponse> reply) {
  if (request.class_ref_case() == v1::GetClassRequest::kJoinCode &&
      !limits_->lookups()->Allow(context->peer(), clock_->Now())) {
    return reply.Fail(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kTooManyLookups));
  }
  DescribeClass(registry_, clock_, request,
                [reply](grpc::Status status, v1::GetClassResponse described) {
                  reply.Finish(status, described);
                });
}

void CircuitServiceImpl::ServeGetClassSummary(
    grpc::CallbackServerContext* context,
    const v1::GetClassSummaryRequest& request,
    UnaryReply<v1::ClassSummary> reply) {
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayRunClass);
  if (!allowed.ok()) return reply.Fail(allowed);
  Summarize(request.class_id(),
            [reply](grpc::Status status, v1::ClassSummary summary) {
              reply.Finish(status, summary);
            });
}

void CircuitServiceImpl::ServeGetWallSummary(
    grpc::CallbackServerContext* context,
    const v1::GetWallSummaryRequest& request,
    UnaryReply<v1::WallSummary> reply) {
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayWatchClass);
  if (!allowed.ok()) return reply.Fail(allowed);
  // Only the wall's view of the summary leaves the server.
  Summarize(request.class_id(),
            [reply](grpc::Status status, v1::ClassSummary summary) {
              if (!status.ok()) return reply.Fail(status);
              reply.Ok(WallFromSummary(summary));
            });
}

void CircuitServiceImpl::Summarize(
    const std::string& class_id,
    absl::AnyInvocable<void(grpc::Status, v1::ClassSummary)> done) {
  registry_->Summary(class_id,
                     [done = std::move(done)](
                         absl::StatusOr<v1::ClassSummary> summary) mutable {
                       if (!summary.ok()) {
                         done(ToGrpcStatus(summary.status()), {});
                         return;
                       }
                       done(grpc::Status::OK, std::move(*summary));
                     });
}

void CircuitServiceImpl::ServeEraseHealthData(
    grpc::CallbackServerContext* context,
    const v1::EraseHealthDataRequest& request,
    UnaryReply<v1::EraseHealthDataResponse> reply) {
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayRunClass);
  if (!allowed.ok()) return reply.Fail(allowed);
  if (request.participant_id().empty()) {
    return reply.Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "give the participant_id whose health "
                                   "data to erase"));
  }
  registry_->EraseHealthData(
      request.class_id(), request.participant_id(),
      [reply](absl::Status status) { reply.Finish(ToGrpcStatus(status), {}); });
}

void CircuitServiceImpl::ServeListClasses(
    grpc::CallbackServerContext* context, const v1::ListClassesRequest& request,
    UnaryReply<v1::ListClassesResponse> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  v1::ListClassesResponse response;
  for (v1::ClassInfo& info : registry_->List(request.include_ended())) {
    if (MayWatchClass(who, info).ok()) {
      *response.add_classes() = std::move(info);
    }
  }
  reply.Ok(response);
}

void CircuitServiceImpl::ServeGetClock(grpc::CallbackServerContext*,
                                       const v1::GetClockRequest& request,
                                       UnaryReply<v1::GetClockResponse> reply) {
  v1::GetClockResponse response;
  response.set_client_send_unix_ms(request.client_send_unix_ms());
  response.set_server_receive_unix_ms(clock_->NowUnixMs());
  response.set_server_send_unix_ms(clock_->NowUnixMs());
  reply.Ok(response);
}

void CircuitServiceImpl::ServeApproveKioskPairing(
    grpc::CallbackServerContext* context,
    const v1::ApproveKioskPairingRequest& request,
    UnaryReply<v1::Kiosk> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageKiosks(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  if (options_.keys.kiosks == nullptr) {
    return reply.Fail(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "kiosk pairing is off"));
  }
  absl::StatusOr<v1::Kiosk> kiosk = options_.keys.kiosks->Approve(
      request.pairing_code(), request.name(), StudioOf(who));
  if (!kiosk.ok()) return reply.Fail(ToGrpcStatus(kiosk.status()));
  reply.Ok(*kiosk);
}

void CircuitServiceImpl::ServeListKiosks(
    grpc::CallbackServerContext* context, const v1::ListKiosksRequest&,
    UnaryReply<v1::ListKiosksResponse> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageKiosks(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  v1::ListKiosksResponse response;
  if (options_.keys.kiosks != nullptr) {
    for (v1::Kiosk& kiosk : options_.keys.kiosks->List()) {
      if (MayManageKiosks(who, KioskStudio(kiosk)).ok()) {
        *response.add_kiosks() = std::move(kiosk);
      }
    }
  }
  reply.Ok(response);
}

void CircuitServiceImpl::ServeRevokeKiosk(grpc::CallbackServerContext* context,
                                          const v1::RevokeKioskRequest& request,
                                          UnaryReply<v1::Kiosk> reply) {
  Principal who;
  grpc::Status allowed = Authenticate(*context, options_.keys, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageKiosks(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  const grpc::Status unknown(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("no kiosk with id ", QuoteForError(request.kiosk_id())));
  if (options_.keys.kiosks == nullptr) return reply.Fail(unknown);
  for (const v1::Kiosk& kiosk : options_.keys.kiosks->List()) {
    if (kiosk.kiosk_id() == request.kiosk_id()) {
      allowed = ToGrpcStatus(MayManageKiosks(who, KioskStudio(kiosk)));
    }
  }
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::Kiosk> kiosk =
      options_.keys.kiosks->Revoke(request.kiosk_id());
  if (!kiosk.ok()) return reply.Fail(ToGrpcStatus(kiosk.status()));
  reply.Ok(*kiosk);
}

grpc::Status CircuitServiceImpl::ClassAccess(
    const grpc::ServerContextBase& context, const std::string& class_id,
    absl::Status (*may)(const Principal&, const v1::ClassInfo&),
    Principal* who_out) {
  Principal who;
  grpc::Status allowed = Authenticate(context, options_.keys, &who);
  if (!allowed.ok()) return allowed;
  std::optional<v1::ClassInfo> info = registry_->Info(class_id);
  if (!info.has_value()) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no class with id ", QuoteForError(class_id)));
  }
  allowed = ToGrpcStatus(may(who, *info));
  if (who_out != nullptr) *who_out = std::move(who);
  return allowed;
}

grpc::Status CircuitServiceImpl::AccountsFor(
    const grpc::ServerContextBase& context, Principal* who) const {
  grpc::Status allowed = Authenticate(context, options_.keys, who);
  if (!allowed.ok()) return allowed;
  if (options_.accounts == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "this server keeps no accounts");
  }
  return grpc::Status::OK;
}

void CircuitServiceImpl::ServeAddAccount(
    grpc::CallbackServerContext* context, const v1::AddAccountRequest& request,
    UnaryReply<v1::AccountCredential> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  v1::AddAccountRequest add = request;
  if (add.studio_id().empty()) add.set_studio_id(StudioOf(who));
  if (allowed.ok())
    allowed = ToGrpcStatus(MayManageAccounts(who, add.studio_id()));
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::AccountCredential> added = options_.accounts->Add(add);
  if (!added.ok()) return reply.Fail(ToGrpcStatus(added.status()));
  LogInfo("account %s (%s of studio %s) added by %s",
          added->account().account_id().c_str(),
          v1::AccountRole_Name(added->account().role()).c_str(),
          added->account().studio_id().c_str(), who.subject.c_str());
  reply.Ok(*added);
}

void CircuitServiceImpl::ServeListAccounts(
    grpc::CallbackServerContext* context, const v1::ListAccountsRequest&,
    UnaryReply<v1::ListAccountsResponse> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (allowed.ok())
    allowed = ToGrpcStatus(MayManageAccounts(who, StudioOf(who)));
  if (!allowed.ok()) return reply.Fail(allowed);
  v1::ListAccountsResponse response;
  for (v1::Account& account : options_.accounts->List(who.studio)) {
    *response.add_accounts() = std::move(account);
  }
  reply.Ok(response);
}

grpc::Status CircuitServiceImpl::ManagedAccount(
    const grpc::ServerContextBase& context, const std::string& account_id,
    Principal* who) const {
  grpc::Status allowed = AccountsFor(context, who);
  if (!allowed.ok()) return allowed;
  absl::StatusOr<v1::Account> account = options_.accounts->Find(account_id);
  if (!account.ok()) {
    // Another studio's account ids are not confirmed to its admins either.
    allowed = ToGrpcStatus(MayManageAccounts(*who, StudioOf(*who)));
    return allowed.ok() ? ToGrpcStatus(account.status()) : allowed;
  }
  return ToGrpcStatus(MayManageAccounts(*who, account->studio_id()));
}

void CircuitServiceImpl::ServeRevokeAccount(
    grpc::CallbackServerContext* context,
    const v1::RevokeAccountRequest& request, UnaryReply<v1::Account> reply) {
  Principal who;
  grpc::Status allowed = ManagedAccount(*context, request.account_id(), &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::Account> revoked =
      options_.accounts->Revoke(request.account_id());
  if (!revoked.ok()) return reply.Fail(ToGrpcStatus(revoked.status()));
  LogInfo("account %s revoked by %s", revoked->account_id().c_str(),
          who.subject.c_str());
  EndStreamsOfDeadCredentials();
  reply.Ok(*revoked);
}

void CircuitServiceImpl::ServeReissueAccountCredential(
    grpc::CallbackServerContext* context,
    const v1::ReissueAccountCredentialRequest& request,
    UnaryReply<v1::AccountCredential> reply) {
  Principal who;
  grpc::Status allowed = ManagedAccount(*context, request.account_id(), &who);
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::AccountCredential> issued = options_.accounts->Reissue(
      request.account_id(), request.credential_ttl_seconds());
  if (!issued.ok()) return reply.Fail(ToGrpcStatus(issued.status()));
  LogInfo("account %s has a new credential, issued by %s",
          issued->account().account_id().c_str(), who.subject.c_str());
  EndStreamsOfDeadCredentials();
  reply.Ok(*issued);
}

void CircuitServiceImpl::ServeIssueClassCredential(
    grpc::CallbackServerContext* context,
    const v1::IssueClassCredentialRequest& request,
    UnaryReply<v1::ClassCredential> reply) {
  Principal who;
  grpc::Status allowed =
      ClassAccess(*context, request.class_id(), &MayRunClass, &who);
  if (allowed.ok() && who.role == Principal::Role::kClass) {
    allowed = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           "a class credential cannot issue another");
  }
  if (allowed.ok() && options_.accounts == nullptr) {
    allowed = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "this server issues no class credentials");
  }
  if (!allowed.ok()) return reply.Fail(allowed);
  const std::optional<v1::ClassInfo> info = registry_->Info(request.class_id());
  absl::StatusOr<v1::ClassCredential> issued =
      options_.accounts->IssueClassCredential(
          who, request.class_id(), info.has_value() ? StudioOf(*info) : "",
          request.ttl_seconds());
  if (!issued.ok()) return reply.Fail(ToGrpcStatus(issued.status()));
  reply.Ok(*issued);
}

void CircuitServiceImpl::ServeRotateSigningKey(
    grpc::CallbackServerContext* context, const v1::RotateSigningKeyRequest&,
    UnaryReply<v1::SigningKeys> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageSigningKeys(who));
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::SigningKeys> keys = options_.accounts->RotateSigningKey();
  if (!keys.ok()) return reply.Fail(ToGrpcStatus(keys.status()));
  LogInfo("signing key rotated: %s signs now",
          keys->keys(keys->keys_size() - 1).key_id().c_str());
  reply.Ok(*keys);
}

void CircuitServiceImpl::ServeRetireSigningKey(
    grpc::CallbackServerContext* context,
    const v1::RetireSigningKeyRequest& request,
    UnaryReply<v1::SigningKeys> reply) {
  Principal who;
  grpc::Status allowed = AccountsFor(*context, &who);
  if (allowed.ok()) allowed = ToGrpcStatus(MayManageSigningKeys(who));
  if (!allowed.ok()) return reply.Fail(allowed);
  absl::StatusOr<v1::SigningKeys> keys =
      options_.accounts->RetireSigningKey(request.key_id());
  if (!keys.ok()) return reply.Fail(ToGrpcStatus(keys.status()));
  LogInfo("signing key %s retired", request.key_id().c_str());
  EndStreamsOfDeadCredentials();
  reply.Ok(*keys);
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
      open->Close(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                               std::string(still.status().message())),
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
    InstructorReactor::Listen(this, shard);
    ParticipantReactor::Listen(this, shard);
    KioskReactor::Listen(this, shard);
  }
}

}  // namespace circuit
