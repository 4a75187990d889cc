#include "server/live/class_runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/fanout/wire.h"

namespace circuit {
namespace {

v1::ReportAck Ack(const std::string& report_id,
                  const absl::StatusOr<engine::ReportResult>& result) {
  v1::ReportAck ack;
  ack.set_report_id(report_id);
  if (!result.ok()) {
    ack.set_code(static_cast<int>(result.status().code()));
    ack.set_message(std::string(result.status().message()));
    return ack;
  }
  ack.set_seq(result->seq);
  ack.set_duplicate(result->duplicate);
  return ack;
}

bool Visible(const engine::Event& event, bool instructor,
             const std::string& participant_id) {
  switch (event.audience) {
    case engine::Audience::kPublic:
      return true;
    case engine::Audience::kInstructor:
      return instructor;
    case engine::Audience::kInstructorAndParticipant:
      return instructor || (!participant_id.empty() &&
                            event.participant_id == participant_id);
  }
  return false;
}

}  // namespace

ClassRunner::ClassRunner(const v1::ClassInfo& info, const v1::Circuit& circuit,
                         const CircuitLibrary* library,
                         const engine::SessionOptions& options,
                         Journal* journal, const Clock* clock)
    : class_id_(info.class_id()),
      journal_(journal),
      clock_(clock),
      session_(info, circuit, library, options) {}

v1::ClassInfo ClassRunner::Info() const {
  absl::MutexLock lock(&mu_);
  return session_.info();
}

v1::GetClassResponse ClassRunner::Describe() const {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  v1::GetClassResponse response;
  *response.mutable_class_info() = session_.info();
  *response.mutable_state() = session_.State(now);
  response.set_server_time_unix_ms(absl::ToUnixMillis(now));
  return response;
}

void ClassRunner::AttachInstructor(std::shared_ptr<Stream> stream,
                                   int64_t last_seq) {
  absl::MutexLock lock(&mu_);
  CatchUpLocked(stream.get(), Role::kInstructor, "", last_seq);
  instructors_.push_back(std::move(stream));
}

void ClassRunner::AttachKiosk(std::shared_ptr<Stream> stream,
                              int64_t last_seq) {
  absl::MutexLock lock(&mu_);
  CatchUpLocked(stream.get(), Role::kKiosk, "", last_seq);
  kiosks_.push_back(std::move(stream));
}

absl::Status ClassRunner::Join(std::shared_ptr<Stream> stream,
                               const std::string& participant_id,
                               const std::string& resume_token,
                               const v1::CheckIn& check_in) {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  absl::Status status =
      session_.Join(participant_id, resume_token, check_in, now);
  if (!status.ok()) return status;
  status = session_.SetConnection(participant_id,
                                  v1::CONNECTION_STATE_CONNECTED, now);
  if (!status.ok()) return status;
  v1::JoinClassResponse joined;
  joined.set_server_time_unix_ms(absl::ToUnixMillis(now));
  joined.mutable_joined()->set_class_id(class_id_);
  joined.mutable_joined()->set_participant_id(participant_id);
  joined.mutable_joined()->set_resume_token(resume_token);
  stream->Send(ToByteBuffer(joined), Delivery::kReliable);
  // The snapshot includes the join; the join's own events go to everyone
  // else (and would reach this stream only after it subscribes below).
  status = PublishLocked();
  SendSnapshotLocked(stream.get(), Role::kParticipant, participant_id,
                     v1::SNAPSHOT_REASON_INITIAL);
  participants_[participant_id] = std::move(stream);
  return status;
}

absl::Status ClassRunner::Resume(std::shared_ptr<Stream> stream,
                                 const std::string& participant_id,
                                 int64_t last_seq) {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  auto it = participants_.find(participant_id);
  if (it != participants_.end()) {
    it->second->Close(grpc::Status(grpc::StatusCode::ABORTED,
                                   "superseded by a newer stream for this "
                                   "participant"),
                      /*after_queued=*/false);
    participants_.erase(it);
  }
  absl::Status status = session_.SetConnection(
      participant_id, v1::CONNECTION_STATE_CONNECTED, now);
  if (!status.ok()) return status;
  absl::Status published = PublishLocked();
  CatchUpLocked(stream.get(), Role::kParticipant, participant_id, last_seq);
  participants_[participant_id] = std::move(stream);
  return published;
}

v1::CommandResult ClassRunner::Command(const v1::InstructorCommand& command) {
  absl::MutexLock lock(&mu_);
  v1::CommandResult result;
  result.set_command_id(command.command_id());
  absl::StatusOr<int64_t> seq = session_.Apply(command, clock_->Now());
  if (!seq.ok()) {
    result.set_code(static_cast<int>(seq.status().code()));
    result.set_message(std::string(seq.status().message()));
    return result;
  }
  absl::Status published = PublishLocked();
  if (!published.ok()) {
    result.set_code(static_cast<int>(published.code()));
    result.set_message(std::string(published.message()));
    return result;
  }
  result.set_seq(*seq);
  return result;
}

v1::ReportAck ClassRunner::Report(const std::string& participant_id,
                                  const v1::JoinClassRequest& request) {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  std::string report_id;
  absl::StatusOr<engine::ReportResult> result;
  switch (request.kind_case()) {
    case v1::JoinClassRequest::kCompletion:
      report_id = request.completion().report_id();
      result =
          session_.RecordCompletion(participant_id, request.completion(), now);
      break;
    case v1::JoinClassRequest::kEffort:
      report_id = request.effort().report_id();
      result = session_.RecordEffort(participant_id, request.effort(), now);
      break;
    case v1::JoinClassRequest::kSymptom:
      report_id = request.symptom().report_id();
      result = session_.RecordSymptom(participant_id, request.symptom(), now);
      break;
    default:
      result = absl::InvalidArgumentError("not a report");
  }
  if (result.ok() && !result->duplicate) {
    absl::Status published = PublishLocked();
    if (!published.ok()) result = published;
  }
  return Ack(report_id, result);
}

void ClassRunner::Leave(const std::string& participant_id) {
  absl::MutexLock lock(&mu_);
  absl::Status status = session_.SetConnection(
      participant_id, v1::CONNECTION_STATE_LEFT, clock_->Now());
  if (status.ok()) status = PublishLocked();
  auto it = participants_.find(participant_id);
  if (it != participants_.end()) {
    it->second->Close(grpc::Status::OK, /*after_queued=*/true);
    participants_.erase(it);
  }
}

void ClassRunner::StreamEnded(const std::string& participant_id,
                              const Stream* stream) {
  absl::MutexLock lock(&mu_);
  auto it = participants_.find(participant_id);
  // A superseded stream ending is not a drop: a newer one is connected.
  if (it == participants_.end() || it->second.get() != stream) return;
  participants_.erase(it);
  absl::Status status = session_.SetConnection(
      participant_id, v1::CONNECTION_STATE_DROPPED, clock_->Now());
  if (status.ok()) PublishLocked().IgnoreError();
}

void ClassRunner::Tick(bool send_progress) {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  int64_t now_ms = absl::ToUnixMillis(now);
  session_.Tick(now);
  PublishLocked().IgnoreError();
  PruneLocked();

  std::optional<v1::RosterUpdate> roster = session_.TakeRosterUpdate();
  if (roster.has_value() && !instructors_.empty()) {
    v1::RunClassResponse response;
    response.set_server_time_unix_ms(now_ms);
    *response.mutable_roster() = std::move(*roster);
    grpc::ByteBuffer bytes = ToByteBuffer(response);
    for (const auto& s : instructors_) s->Send(bytes, Delivery::kReliable);
  }
  if (send_progress && session_.TakeProgressChanged()) {
    grpc::ByteBuffer bytes = EncodeProgress(session_.Progress(), now_ms);
    for (const auto& s : instructors_)
      s->Send(bytes, Delivery::kLatestProgress);
    for (const auto& s : kiosks_) s->Send(bytes, Delivery::kLatestProgress);
    for (const auto& [id, s] : participants_) {
      s->Send(bytes, Delivery::kLatestProgress);
    }
  }
}

void ClassRunner::GoAway(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  v1::GoingAway going_away;
  going_away.set_reason(reason);
  going_away.set_reconnect_after_ms(1000);
  grpc::ByteBuffer bytes = EncodeGoingAway(going_away, clock_->NowUnixMs());
  grpc::Status status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("circuitd is going away: ", reason,
                                   "; reconnect and resume"));
  auto close = [&](const std::shared_ptr<Stream>& s) {
    s->Send(bytes, Delivery::kReliable);
    s->Close(status, /*after_queued=*/true);
  };
  for (const auto& s : instructors_) close(s);
  for (const auto& s : kiosks_) close(s);
  for (const auto& [id, s] : participants_) close(s);
}

size_t ClassRunner::stream_count() const {
  absl::MutexLock lock(&mu_);
  return instructors_.size() + kiosks_.size() + participants_.size();
}

absl::Status ClassRunner::PublishLocked() {
  std::vector<engine::Event> events = session_.DrainEvents();
  if (events.empty()) return absl::OkStatus();
  std::vector<v1::ClassEvent> records;
  records.reserve(events.size());
  for (const engine::Event& e : events) records.push_back(e.event);
  absl::Status journaled = journal_->Append(class_id_, records);
  if (!journaled.ok()) {
    // The session already holds the change; say so loudly, and tell the
    // caller it is not durable.
    LogError("class %s: journal append failed: %s", class_id_,
             journaled.ToString());
    return absl::UnavailableError("the change could not be recorded durably");
  }
  int64_t now_ms = clock_->NowUnixMs();
  for (const engine::Event& e : events) {
    grpc::ByteBuffer bytes = EncodeEvent(e.event, now_ms);
    for (const auto& s : instructors_) s->Send(bytes, Delivery::kReliable);
    switch (e.audience) {
      case engine::Audience::kPublic:
        for (const auto& s : kiosks_) s->Send(bytes, Delivery::kReliable);
        for (const auto& [id, s] : participants_) {
          s->Send(bytes, Delivery::kReliable);
        }
        break;
      case engine::Audience::kInstructorAndParticipant: {
        auto it = participants_.find(e.participant_id);
        if (it != participants_.end()) {
          it->second->Send(bytes, Delivery::kReliable);
        }
        break;
      }
      case engine::Audience::kInstructor:
        break;
    }
  }
  return absl::OkStatus();
}

void ClassRunner::CatchUpLocked(Stream* stream, Role role,
                                const std::string& participant_id,
                                int64_t last_seq) {
  if (last_seq <= 0) {
    SendSnapshotLocked(stream, role, participant_id,
                       v1::SNAPSHOT_REASON_INITIAL);
    return;
  }
  std::optional<std::vector<const engine::Event*>> missed;
  if (last_seq <= session_.last_seq()) missed = session_.EventsAfter(last_seq);
  if (!missed.has_value()) {
    // Too old, or a seq this server never issued (say, before a restart).
    SendSnapshotLocked(stream, role, participant_id,
                       v1::SNAPSHOT_REASON_MISSED_EVENTS);
    return;
  }
  int64_t now_ms = clock_->NowUnixMs();
  bool instructor = role == Role::kInstructor;
  for (const engine::Event* e : *missed) {
    if (Visible(*e, instructor, participant_id)) {
      stream->Send(EncodeEvent(e->event, now_ms), Delivery::kReliable);
    }
  }
  if (instructor) {
    v1::InstructorSnapshot full = session_.InstructorSnapshot(clock_->Now());
    v1::RunClassResponse response;
    response.set_server_time_unix_ms(now_ms);
    *response.mutable_roster()->mutable_changed() =
        std::move(*full.mutable_roster());
    *response.mutable_roster()->mutable_aggregates() =
        std::move(*full.mutable_aggregates());
    stream->Send(ToByteBuffer(response), Delivery::kReliable);
  }
  SendProgressLocked(stream);
}

void ClassRunner::SendSnapshotLocked(Stream* stream, Role role,
                                     const std::string& participant_id,
                                     v1::SnapshotReason reason) {
  absl::Time now = clock_->Now();
  int64_t now_ms = absl::ToUnixMillis(now);
  switch (role) {
    case Role::kInstructor: {
      v1::RunClassResponse response;
      response.set_server_time_unix_ms(now_ms);
      *response.mutable_snapshot() = session_.InstructorSnapshot(now);
      response.mutable_snapshot()->set_reason(reason);
      stream->Send(ToByteBuffer(response), Delivery::kReliable);
      return;
    }
    case Role::kParticipant: {
      absl::StatusOr<v1::ParticipantSnapshot> snapshot =
          session_.ParticipantSnapshot(participant_id, now);
      if (!snapshot.ok()) return;
      v1::JoinClassResponse response;
      response.set_server_time_unix_ms(now_ms);
      *response.mutable_snapshot() = std::move(*snapshot);
      response.mutable_snapshot()->set_reason(reason);
      stream->Send(ToByteBuffer(response), Delivery::kReliable);
      return;
    }
    case Role::kKiosk: {
      v1::WatchClassResponse response;
      response.set_server_time_unix_ms(now_ms);
      *response.mutable_snapshot() = session_.KioskSnapshot(now);
      response.mutable_snapshot()->set_reason(reason);
      stream->Send(ToByteBuffer(response), Delivery::kReliable);
      return;
    }
  }
}

void ClassRunner::SendProgressLocked(Stream* stream) {
  stream->Send(EncodeProgress(session_.Progress(), clock_->NowUnixMs()),
               Delivery::kLatestProgress);
}

void ClassRunner::PruneLocked() {
  auto dead = [](const std::shared_ptr<Stream>& s) { return s->dead(); };
  instructors_.erase(
      std::remove_if(instructors_.begin(), instructors_.end(), dead),
      instructors_.end());
  kiosks_.erase(std::remove_if(kiosks_.begin(), kiosks_.end(), dead),
                kiosks_.end());
  // Participants leave the map through StreamEnded/Leave/Resume, which also
  // record the connection change.
}

}  // namespace circuit
