#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/quote.h"
#include "server/common/rate_limit.h"
#include "server/common/stats.h"
#include "server/engine/report_input.h"
#include "server/engine/report_validation.h"
#include "server/fanout/stream.h"
#include "server/fanout/wire.h"
#include "server/rpc/circuit_service.h"
#include "server/rpc/stream_reactors.h"
#include "server/rpc/streaming_reactor.h"

namespace circuit {

// JoinClass: join or resume, then reports.
class ParticipantReactor : public StreamingReactor<BidiResponder> {
 public:
  void OnStarted() override {
    ListenForJoinClass(service_, shard());
    CountOpen(&service_->open_participants_);
    StartReading(&in_);
  }

  void OnReadDone(bool ok) override {
    v1::JoinClassRequest request;
    if (!TakeRequest(ok, &in_, &request)) return;
    if (actor_ == nullptr) {
      if (entering_) {
        // A second message before the join or resume was answered.
        return Fail(absl::FailedPreconditionError(
            "wait for the answer to join or resume"));
      }
      if (absl::Status allowed = EntryAllowed(request); !allowed.ok()) {
        return FailLater(allowed);
      }
      absl::Status status = Enter(request);
      if (!status.ok()) return Fail(status);
      return;  // reading goes on once the actor answers
    }
    if (request.kind_case() == v1::JoinClassRequest::kLeave) {
      left_ = true;
      actor_->Leave(participant_id_);
      return;
    }
    internal::ReportInput report;
    if (!engine::TakeReport(&request, participant_id_, &report)) {
      return Fail(absl::FailedPreconditionError(
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
  absl::Status EntryAllowed(const v1::JoinClassRequest& request) {
    if ((request.has_join() || request.has_resume()) &&
        !service_->limits_->joins()->Allow(context()->peer(),
                                           service_->clock_->Now())) {
      ProcessStats().rate_limited_joins.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(
          request.has_join() ? "too many join attempts from this address "
                               "(joins and resumes count together); try "
                               "again in a minute"
                             : "too many resume attempts from this address "
                               "(joins and resumes count together); try "
                               "again in a minute");
    }
    return absl::OkStatus();
  }

  // Starts a join or resume; OK when the actor was asked (its answer
  // continues in Entered).
  absl::Status Enter(const v1::JoinClassRequest& request) {
    ClassRegistry* registry = service_->registry_;
    std::shared_ptr<ClassActor> actor;
    if (request.has_join()) {
      actor = registry->FindByJoinCode(request.join().join_code());
      if (actor == nullptr) {
        return registry->NotHere("", request.join().join_code());
      }
      entering_ = true;
      if (request.join().accept_batches()) stream_->AcceptBatches();
      Hold();
      actor->Join(stream_, request.join(),
                  [this, actor](absl::StatusOr<std::string> seat) {
                    Entered(actor, std::move(seat));
                  });
      return absl::OkStatus();
    }
    if (request.has_resume()) {
      std::optional<std::string> token = BearerToken(*context());
      if (!token.has_value()) {
        return absl::UnauthenticatedError(
            "send the resume token as `authorization: Bearer <token>` "
            "metadata");
      }
      absl::StatusOr<ClassRegistry::Seat> seat = registry->FindSeat(*token);
      if (!seat.ok()) return seat.status();
      entering_ = true;
      if (request.resume().accept_batches()) stream_->AcceptBatches();
      Hold();
      seat->actor->Resume(
          stream_, seat->participant_id, request.resume().last_seq(),
          [this, actor = seat->actor](absl::StatusOr<std::string> resumed) {
            Entered(actor, std::move(resumed));
          });
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
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
      Fail(seat.status());
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

void ListenForJoinClass(CircuitServiceImpl* service, CqShard* shard) {
  ListenForBidi<ParticipantReactor>(service, shard,
                                    &CircuitServiceImpl::RequestJoinClass);
}

}  // namespace circuit
