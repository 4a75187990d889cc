// The participant's side of the HTTP API: join, the seat's event stream,
// reports and leaving, each handed to the class actor exactly as the gRPC
// JoinClass stream hands it (server/http/API.md).

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/common/quote.h"
#include "server/common/stats.h"
#include "server/engine/report_input.h"
#include "server/engine/report_validation.h"
#include "server/fanout/wire.h"
#include "server/http/event_stream.h"
#include "server/http/http_api.h"

namespace circuit {
namespace {

// The actor's answer to a join or resume on `events`: the event stream, or
// the refusal.
ClassActor::SeatDone AnswerWithStream(
    std::shared_ptr<ClassActor> actor, std::shared_ptr<EventStream> events,
    absl::AnyInvocable<void(HttpResponse)> done) {
  return [actor = std::move(actor), events = std::move(events),
          done = std::move(done)](absl::StatusOr<std::string> seat) mutable {
    if (!seat.ok()) {
      events->Abandon();
      done(ErrorResponse(seat.status()));
      return;
    }
    // When the connection goes, the seat is held for the participant to
    // come back, as when a gRPC stream drops.
    events->OnStop([actor, participant_id = *seat,
                    stream = std::weak_ptr<Stream>(events->stream())] {
      if (std::shared_ptr<Stream> ended = stream.lock()) {
        actor->StreamEnded(participant_id, ended.get());
      }
    });
    HttpResponse response;
    response.events = std::move(events);
    done(std::move(response));
  };
}

}  // namespace

void HttpApi::Join(const HttpRequest& request, Done done) {
  v1::JoinRequest join;
  if (absl::Status parsed = ParseJson(request.body, &join); !parsed.ok()) {
    done(ErrorResponse(parsed));
    return;
  }
  if (options_.join_limiter != nullptr &&
      !options_.join_limiter->Allow(request.peer, options_.clock->Now())) {
    ProcessStats().rate_limited_joins.fetch_add(1, std::memory_order_relaxed);
    done(ErrorResponse(absl::ResourceExhaustedError(
        "too many join attempts from this address (joins and "
        "resumes count together); try again in a minute")));
    return;
  }
  std::shared_ptr<ClassActor> actor =
      options_.registry->FindByJoinCode(join.join_code());
  if (actor == nullptr) {
    done(ErrorResponse(options_.registry->NotHere("", join.join_code())));
    return;
  }
  join.set_accept_batches(false);  // one event per message
  std::shared_ptr<EventStream> events = EventStream::Create(
      EventStream::Kind::kJoin, options_.max_queued_per_stream,
      &ProcessStats().open_http_participants);
  std::shared_ptr<Stream> stream = events->stream();
  actor->Join(std::move(stream), join,
              AnswerWithStream(actor, std::move(events), std::move(done)));
}

void HttpApi::Seat(const std::string& class_id,
                   const std::string& participant_id, absl::string_view action,
                   const HttpRequest& request, Done done) {
  const bool events = action == "events";
  if (!events && action != "report" && action != "leave") {
    done(ErrorResponse(absl::NotFoundError(
        absl::StrCat("no such path ", QuoteForError(request.target),
                     ": a seat has :events, :report and :leave"))));
    return;
  }
  const bool get = request.method == "GET";
  if (events != get || (!get && request.method != "POST")) {
    done(ErrorResponse(absl::UnimplementedError(
        absl::StrCat(":", action, " answers ", events ? "GET" : "POST"))));
    return;
  }
  const std::string token = BearerOf(request.authorization);
  if (token.empty()) {
    done(ErrorResponse(absl::UnauthenticatedError(
        "send the seat's resume token: Authorization: Bearer <token>")));
    return;
  }
  absl::StatusOr<ClassRegistry::Seat> seat = options_.registry->FindSeat(token);
  if (!seat.ok()) {
    done(ErrorResponse(seat.status()));
    return;
  }
  if (seat->actor->class_id() != class_id ||
      seat->participant_id != participant_id) {
    done(ErrorResponse(
        absl::PermissionDeniedError("that resume token holds another seat")));
    return;
  }
  if (events) {
    absl::StatusOr<int64_t> last_seq = ResumeFrom(request);
    if (!last_seq.ok()) {
      done(ErrorResponse(last_seq.status()));
      return;
    }
    // Opening a seat's events is a resume: it counts with joins per
    // address, as over gRPC, since each answers with a snapshot.
    if (options_.join_limiter != nullptr &&
        !options_.join_limiter->Allow(request.peer, options_.clock->Now())) {
      ProcessStats().rate_limited_joins.fetch_add(1, std::memory_order_relaxed);
      done(ErrorResponse(absl::ResourceExhaustedError(
          "too many resume attempts from this address (joins and resumes "
          "count together); try again in a minute")));
      return;
    }
    std::shared_ptr<EventStream> stream = EventStream::Create(
        EventStream::Kind::kJoin, options_.max_queued_per_stream,
        &ProcessStats().open_http_participants);
    std::shared_ptr<Stream> to = stream->stream();
    seat->actor->Resume(
        std::move(to), participant_id, *last_seq,
        AnswerWithStream(seat->actor, std::move(stream), std::move(done)));
    return;
  }
  if (action == "leave") {
    seat->actor->Leave(participant_id);
    HttpResponse left;
    left.body = "{}";
    done(std::move(left));
    return;
  }
  v1::JoinClassRequest body;
  if (absl::Status parsed = ParseJson(request.body, &body); !parsed.ok()) {
    done(ErrorResponse(parsed));
    return;
  }
  internal::ReportInput report;
  if (!engine::TakeReport(&body, participant_id, &report)) {
    done(ErrorResponse(absl::InvalidArgumentError(
        "a report is {\"completion\": ...}, {\"effort\": ...} or "
        "{\"symptom\": ...}")));
    return;
  }
  if (!ReportWithinRate(class_id, participant_id, &done)) return;
  std::string id = engine::ReportId(report);  // before the report moves
  seat->actor->Report(
      std::move(report),
      ActorAnswer<absl::StatusOr<engine::ReportResult>>(
          "the report was not answered (the server is stopping); send it "
          "again",
          [id = std::move(id)](
              const absl::StatusOr<engine::ReportResult>& outcome) {
            return outcome.ok() ? JsonResponse(ReportAckFor(id, outcome))
                                : ErrorResponse(outcome.status());
          },
          std::move(done)));
}

bool HttpApi::ReportWithinRate(const std::string& class_id,
                               const std::string& participant_id, Done* done) {
  KeyedTokenBuckets* const buckets = options_.seat_buckets;
  if (buckets == nullptr) return true;
  const absl::Time now = options_.clock->Now();
  if (buckets->Get(SeatBudgetKey(class_id, participant_id), now)
          ->TryTake(now)) {
    return true;
  }
  ProcessStats().rate_limited_messages.fetch_add(1, std::memory_order_relaxed);
  (*done)(ErrorResponse(absl::ResourceExhaustedError(
      absl::StrCat("more than ", buckets->per_second(),
                   " messages per second from one participant, gRPC and "
                   "HTTP together (burst ",
                   buckets->burst(), "); send it again in a moment"))));
  return false;
}

}  // namespace circuit
