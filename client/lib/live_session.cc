#include "client/lib/live_session.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace circuit::client {
namespace {

constexpr size_t kMaxRecentAcks = 32;

// A short random prefix so ids from different runs never collide.
std::string RandomPrefix() {
  absl::BitGen gen;
  return absl::StrFormat("%08x", absl::Uniform<uint32_t>(gen));
}

}  // namespace

std::string NewClientJoinId() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    absl::StrAppendFormat(&id, "%08x", static_cast<uint32_t>(device()));
  }
  return id;
}

const char* LinkStateName(LinkState state) {
  switch (state) {
    case LinkState::kConnecting:
      return "connecting";
    case LinkState::kLive:
      return "live";
    case LinkState::kReconnecting:
      return "reconnecting";
    case LinkState::kClosed:
      return "closed";
    case LinkState::kFailed:
      return "failed";
  }
  return "unknown";
}

// --- LiveSession -------------------------------------------------------------

LiveSession::LiveSession(std::shared_ptr<Connection> connection,
                         SessionOptions options)
    : connection_(std::move(connection)), options_(options) {}

LiveSession::~LiveSession() {
  // Derived destructors stop the thread: RunStream is theirs.
  Stop();
}

void LiveSession::SetListener(Listener listener) {
  listener_ = std::move(listener);
}

void LiveSession::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LiveSession::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  if (status_.link != LinkState::kFailed) status_.link = LinkState::kClosed;
}

ClassMirror LiveSession::Mirror() const {
  absl::MutexLock lock(&mu_);
  return mirror_;
}

SessionStatus LiveSession::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

int64_t LiveSession::ServerNowMs() const {
  absl::MutexLock lock(&mu_);
  return connection_->options().clock->NowUnixMs() + status_.clock_offset_ms;
}

bool LiveSession::WaitFor(
    const std::function<bool(const ClassMirror&)>& predicate,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return predicate(mirror_) || status_.link == LinkState::kClosed ||
           status_.link == LinkState::kFailed;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return predicate(mirror_);
}

bool LiveSession::WaitForLink(LinkState state, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return status_.link == state;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

void LiveSession::DropConnection() {
  absl::MutexLock lock(&mu_);
  if (context_ != nullptr) context_->TryCancel();
}

void LiveSession::PauseReconnecting() {
  absl::MutexLock lock(&mu_);
  reconnect_paused_ = true;
}

void LiveSession::ResumeReconnecting() {
  absl::MutexLock lock(&mu_);
  reconnect_paused_ = false;
}

bool LiveSession::IsPermanent(const grpc::Status& status) const {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::UNAUTHENTICATED:
    // A newer stream took this seat over (another device resumed it).
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

void LiveSession::MarkLive() {
  if (status_.link == LinkState::kLive) return;
  status_.link = LinkState::kLive;
  status_.error = absl::OkStatus();
  failed_attempts_ = 0;
}

void LiveSession::CloseAfterStream() { close_after_stream_ = true; }

void LiveSession::Notify(const google::protobuf::Message* message) {
  if (listener_) listener_(message);
}

namespace {

// Calls `handle` with each message one read carries: the entries of its
// batch, in order, or else the response itself.
template <typename Response, typename Handle>
void ForEachMessage(const Response& response, Handle handle) {
  if (response.batch_size() == 0) {
    handle(response);
    return;
  }
  for (const Response& one : response.batch()) handle(one);
}

}  // namespace

template <typename Response>
void LiveSession::ApplyCommon(const Response& response) {
  MarkLive();
  mirror_.SetServerTime(response.server_time_unix_ms());
  if (response.has_event()) mirror_.Apply(response.event());
  if (response.has_progress()) mirror_.Apply(response.progress());
  if (response.has_going_away()) {
    going_away_after_ms_ = response.going_away().reconnect_after_ms();
  }
  if (response.has_snapshot()) {
    if (status_.reconnects > 0 &&
        response.snapshot().reason() == v1::SNAPSHOT_REASON_MISSED_EVENTS) {
      ++status_.resume_snapshots;
    }
    mirror_.Apply(response.snapshot());
  }
}

absl::Duration LiveSession::NextBackoff() {
  absl::Duration backoff = options_.backoff_initial;
  for (int i = 1; i < failed_attempts_ && backoff < options_.backoff_max; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, options_.backoff_max);
  // Up to a fifth less, so a room of phones does not return in lockstep.
  absl::BitGen gen;
  return backoff * (1.0 - absl::Uniform(gen, 0.0, 0.2));
}

void LiveSession::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    absl::StatusOr<ClockSample> sample =
        connection_->EstimateClockOffset(options_.clock_samples);
    auto context = std::make_shared<grpc::ClientContext>();
    Authorize(context.get(), Secret());
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      if (sample.ok()) status_.clock_offset_ms = sample->offset_ms;
      context_ = context;
    }
    grpc::Status result = RunStream(context.get());

    absl::MutexLock lock(&mu_);
    context_.reset();
    if (stopping_) break;
    status_.error = result.ok()
                        ? absl::UnavailableError("the server closed the stream")
                        : FromGrpcStatus(result);
    if (close_after_stream_) {
      status_.link = LinkState::kClosed;
      status_.error = FromGrpcStatus(result);
      break;
    }
    if (IsPermanent(result)) {
      status_.link = LinkState::kFailed;
      break;
    }
    status_.link = LinkState::kReconnecting;
    ++failed_attempts_;
    absl::Duration delay = NextBackoff();
    if (going_away_after_ms_ > 0) {
      delay = std::max(delay, absl::Milliseconds(going_away_after_ms_));
      going_away_after_ms_ = 0;
    }
    mu_.Unlock();
    Notify(nullptr);
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
    auto may_retry = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || !reconnect_paused_;
    };
    mu_.Await(absl::Condition(&may_retry));
    if (stopping_) break;
    ++status_.reconnects;
  }
  Notify(nullptr);
}

// --- InstructorSession -------------------------------------------------------

InstructorSession::InstructorSession(std::shared_ptr<Connection> connection,
                                     std::string instructor_key,
                                     std::string class_id,
                                     SessionOptions options)
    : LiveSession(std::move(connection), options),
      key_(std::move(instructor_key)),
      class_id_(std::move(class_id)),
      id_prefix_(RandomPrefix()) {}

InstructorSession::~InstructorSession() { Stop(); }

grpc::Status InstructorSession::RunStream(grpc::ClientContext* context) {
  std::unique_ptr<Stream> stream = connection_->stub()->RunClass(context);
  v1::RunClassRequest attach;
  attach.mutable_attach()->set_class_id(class_id_);
  attach.mutable_attach()->set_accept_batches(true);
  {
    absl::MutexLock lock(&mu_);
    attach.mutable_attach()->set_last_seq(mirror_.last_seq());
  }
  {
    absl::MutexLock lock(&write_mu_);
    if (!stream->Write(attach)) return stream->Finish();
    stream_ = stream.get();
  }
  v1::RunClassResponse read;
  while (stream->Read(&read)) {
    ForEachMessage(read, [&](const v1::RunClassResponse& response) {
      {
        absl::MutexLock lock(&mu_);
        ApplyCommon(response);
        if (response.has_roster()) mirror_.Apply(response.roster());
        if (response.has_command_result()) {
          results_[response.command_result().command_id()] =
              response.command_result();
        }
      }
      Notify(&response);
    });
  }
  {
    absl::MutexLock lock(&write_mu_);
    stream_ = nullptr;
  }
  return stream->Finish();
}

absl::StatusOr<std::string> InstructorSession::Send(
    v1::InstructorCommand command) {
  absl::MutexLock write_lock(&write_mu_);
  if (command.command_id().empty()) {
    absl::MutexLock lock(&mu_);
    command.set_command_id(absl::StrCat("cmd-", id_prefix_, "-", ++next_));
  }
  if (stream_ == nullptr) {
    return absl::UnavailableError("not connected to circuitd (reconnecting)");
  }
  v1::RunClassRequest request;
  *request.mutable_command() = command;
  if (!stream_->Write(request)) {
    return absl::UnavailableError("the connection dropped; send it again");
  }
  return command.command_id();
}

absl::StatusOr<v1::CommandResult> InstructorSession::SendAndWait(
    v1::InstructorCommand command, absl::Duration timeout) {
  absl::StatusOr<std::string> id = Send(std::move(command));
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return results_.count(*id) > 0 || status_.link != LinkState::kLive;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  auto it = results_.find(*id);
  if (it == results_.end()) {
    return absl::DeadlineExceededError(
        absl::StrCat("no result for command ", *id, " (link ",
                     LinkStateName(status_.link), ")"));
  }
  if (it->second.code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(it->second.code()),
                        it->second.message());
  }
  return it->second;
}

absl::optional<v1::CommandResult> InstructorSession::Result(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = results_.find(id);
  if (it == results_.end()) return absl::nullopt;
  return it->second;
}

// --- ParticipantSession ------------------------------------------------------

ParticipantSession::ParticipantSession(std::shared_ptr<Connection> connection,
                                       std::string join_code,
                                       v1::CheckIn check_in,
                                       SessionOptions options)
    : LiveSession(std::move(connection), options),
      join_code_(std::move(join_code)),
      check_in_(std::move(check_in)),
      id_prefix_(RandomPrefix()),
      client_join_id_(NewClientJoinId()),
      profile_credential_(options.profile_credential),
      keep_profile_(options.keep_profile) {}

ParticipantSession::~ParticipantSession() {
  Stop();
  std::thread retrier;
  {
    absl::MutexLock lock(&mu_);
    retrier = std::move(retrier_);
  }
  if (retrier.joinable()) retrier.join();
}

void ParticipantSession::RetryLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ ||
               (!retry_on_submit_.empty() && absl::Now() >= retry_due_);
      };
      while (!due()) {
        mu_.AwaitWithDeadline(absl::Condition(&due),
                              retry_on_submit_.empty()
                                  ? absl::Now() + absl::Seconds(1)
                                  : retry_due_);
      }
      if (stopping_) return;
    }
    // Taken and written under the write lock, as Submit does, so no new
    // report overtakes the retries (a later count of a set must stay later).
    absl::MutexLock write_lock(&write_mu_);
    std::vector<v1::JoinClassRequest> retries;
    {
      absl::MutexLock lock(&mu_);
      for (const v1::JoinClassRequest& r : pending_) {
        if (retry_on_submit_.erase(ReportId(r)) > 0) retries.push_back(r);
      }
      retry_on_submit_.clear();
      retry_due_ = absl::InfiniteFuture();
    }
    // Without a stream, the next one sends every pending report anyway.
    for (size_t i = 0; stream_ != nullptr && i < retries.size(); ++i) {
      if (!stream_->Write(retries[i])) break;
    }
  }
}

std::string ParticipantSession::Secret() const {
  absl::MutexLock lock(&mu_);
  return resume_token_;
}

bool ParticipantSession::IsPermanent(const grpc::Status& status) const {
  // A refused join is final; so is a resume the server no longer knows.
  return LiveSession::IsPermanent(status);
}

grpc::Status ParticipantSession::RunStream(grpc::ClientContext* context) {
  std::unique_ptr<Stream> stream = connection_->stub()->JoinClass(context);
  {
    absl::MutexLock write_lock(&write_mu_);
    v1::JoinClassRequest first;
    std::deque<v1::JoinClassRequest> resend;
    {
      absl::MutexLock lock(&mu_);
      if (resume_token_.empty()) {
        first.mutable_join()->set_join_code(join_code_);
        *first.mutable_join()->mutable_check_in() = check_in_;
        first.mutable_join()->set_client_join_id(client_join_id_);
        first.mutable_join()->set_accept_batches(true);
        first.mutable_join()->set_profile_credential(profile_credential_);
        first.mutable_join()->set_keep_profile(keep_profile_);
      } else {
        first.mutable_resume()->set_last_seq(mirror_.last_seq());
        first.mutable_resume()->set_accept_batches(true);
      }
      resend = pending_;
      retry_on_submit_.clear();
    }
    if (!stream->Write(first)) return stream->Finish();
    // Unacknowledged reports go again, with their ids: the server counts
    // each id once and acknowledges the retry.
    for (const v1::JoinClassRequest& report : resend) {
      if (!stream->Write(report)) break;
    }
    stream_ = stream.get();
  }
  v1::JoinClassResponse read;
  while (stream->Read(&read)) {
    ForEachMessage(read, [&](const v1::JoinClassResponse& response) {
      {
        absl::MutexLock lock(&mu_);
        ApplyCommon(response);
        if (response.has_joined()) {
          resume_token_ = response.joined().resume_token();
          // A retried join's Joined carries no new profile credential; the
          // first one's is kept.
          const std::string credential =
              joined_.profile_credential().empty()
                  ? response.joined().profile_credential()
                  : joined_.profile_credential();
          joined_ = response.joined();
          joined_.set_profile_credential(credential);
        }
        if (response.has_ack()) {
          const v1::ReportAck& ack = response.ack();
          const bool retry_later =
              ack.code() == static_cast<int>(absl::StatusCode::kUnavailable) ||
              ack.code() == static_cast<int>(absl::StatusCode::kAborted);
          const bool pending =
              std::any_of(pending_.begin(), pending_.end(),
                          [&](const v1::JoinClassRequest& r) {
                            return ReportId(r) == ack.report_id();
                          });
          if (pending &&
              ack.code() == static_cast<int>(absl::StatusCode::kUnavailable)) {
            retry_on_submit_.insert(ack.report_id());
            retry_due_ =
                std::min(retry_due_, absl::Now() + options_.backoff_initial);
            if (!retrier_.joinable()) {
              retrier_ = std::thread([this] { RetryLoop(); });
            }
          } else {
            retry_on_submit_.erase(ack.report_id());
          }
          if (!retry_later) {
            pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                          [&](const v1::JoinClassRequest& r) {
                                            return ReportId(r) ==
                                                   ack.report_id();
                                          }),
                           pending_.end());
            acks_[ack.report_id()] = ack;
          }
          recent_acks_.push_back(ack);
          while (recent_acks_.size() > kMaxRecentAcks) recent_acks_.pop_front();
        }
      }
      Notify(&response);
    });
  }
  {
    absl::MutexLock lock(&write_mu_);
    stream_ = nullptr;
  }
  return stream->Finish();
}

std::string ParticipantSession::ReportId(const v1::JoinClassRequest& report) {
  switch (report.kind_case()) {
    case v1::JoinClassRequest::kCompletion:
      return report.completion().report_id();
    case v1::JoinClassRequest::kEffort:
      return report.effort().report_id();
    case v1::JoinClassRequest::kSymptom:
      return report.symptom().report_id();
    default:
      return "";
  }
}

absl::StatusOr<std::string> ParticipantSession::Submit(
    v1::JoinClassRequest report) {
  absl::MutexLock write_lock(&write_mu_);
  std::string id;
  std::vector<v1::JoinClassRequest> retries;
  {
    absl::MutexLock lock(&mu_);
    std::string* id_field = nullptr;
    switch (report.kind_case()) {
      case v1::JoinClassRequest::kCompletion:
        id_field = report.mutable_completion()->mutable_report_id();
        break;
      case v1::JoinClassRequest::kEffort:
        id_field = report.mutable_effort()->mutable_report_id();
        break;
      case v1::JoinClassRequest::kSymptom:
        id_field = report.mutable_symptom()->mutable_report_id();
        break;
      default:
        return absl::InvalidArgumentError(
            "only completion, effort and symptom reports can be submitted");
    }
    if (status_.link == LinkState::kClosed ||
        status_.link == LinkState::kFailed) {
      return absl::FailedPreconditionError(
          absl::StrCat("the session is ", LinkStateName(status_.link)));
    }
    if (static_cast<int>(pending_.size()) >= options_.max_queued_reports) {
      return absl::ResourceExhaustedError(absl::StrCat(
          pending_.size(), " reports are already waiting for the connection"));
    }
    if (id_field->empty()) {
      *id_field = absl::StrCat("r-", id_prefix_, "-", ++next_report_);
    }
    id = *id_field;
    if (stream_ != nullptr) {
      for (const v1::JoinClassRequest& r : pending_) {
        if (retry_on_submit_.erase(ReportId(r)) > 0) retries.push_back(r);
      }
    }
    pending_.push_back(report);
  }
  // Sent now when connected; otherwise the next stream sends it (with every
  // other pending report).
  if (stream_ != nullptr) {
    bool open = true;
    for (size_t i = 0; open && i < retries.size(); ++i) {
      open = stream_->Write(retries[i]);
    }
    if (open) stream_->Write(report);
  }
  return id;
}

absl::StatusOr<v1::JoinClassRequest> ParticipantSession::AboutLastWork() const {
  v1::JoinClassRequest request;
  absl::MutexLock lock(&mu_);
  if (!mirror_.has_snapshot()) {
    return absl::FailedPreconditionError(
        "not joined yet: the class's state has not arrived");
  }
  const v1::Interval& work = mirror_.last_work();
  const v1::Interval& current = mirror_.state().current();
  request.mutable_completion()->set_block_index(
      work.kind() == v1::INTERVAL_KIND_WORK ? work.block_index()
                                            : current.block_index());
  request.mutable_completion()->set_set(
      work.kind() == v1::INTERVAL_KIND_WORK ? work.set() : current.set());
  request.mutable_completion()->set_side(
      work.kind() == v1::INTERVAL_KIND_WORK ? work.side() : current.side());
  return request;
}

absl::StatusOr<std::string> ParticipantSession::ReportReps(int reps) {
  absl::StatusOr<v1::JoinClassRequest> request = AboutLastWork();
  if (!request.ok()) return request.status();
  request->mutable_completion()->set_reps(reps);
  return Submit(*std::move(request));
}

absl::StatusOr<std::string> ParticipantSession::ReportParts(
    const std::vector<int>& amounts) {
  absl::StatusOr<v1::JoinClassRequest> request = AboutLastWork();
  if (!request.ok()) return request.status();
  v1::CompletionReport* completion = request->mutable_completion();
  {
    absl::MutexLock lock(&mu_);
    const v1::Circuit& circuit = mirror_.circuit();
    const int block = completion->block_index();
    const v1::Exercise* exercise =
        block >= 0 && block < circuit.blocks_size()
            ? mirror_.FindExercise(circuit.blocks(block).exercise_id())
            : nullptr;
    if (exercise == nullptr || exercise->parts().empty()) {
      return absl::FailedPreconditionError(
          "this exercise is logged as one number of reps");
    }
    if (static_cast<int>(amounts.size()) != exercise->parts_size()) {
      std::vector<std::string> names;
      for (const v1::ExercisePart& part : exercise->parts()) {
        names.push_back(part.name());
      }
      return absl::InvalidArgumentError(
          absl::StrCat("give ", exercise->parts_size(),
                       " numbers: ", absl::StrJoin(names, ", ")));
    }
    for (int i = 0; i < exercise->parts_size(); ++i) {
      v1::PartDone* done = completion->add_parts();
      done->set_part_id(exercise->parts(i).id());
      done->set_amount(amounts[static_cast<size_t>(i)]);
    }
  }
  completion->set_reps(amounts.front());
  return Submit(*std::move(request));
}

absl::StatusOr<int> ParticipantSession::LastWorkBlock() const {
  absl::StatusOr<v1::JoinClassRequest> request = AboutLastWork();
  if (!request.ok()) return request.status();
  return request->completion().block_index();
}

absl::StatusOr<std::string> ParticipantSession::ReportEffort(
    v1::EffortFeel feel) {
  absl::StatusOr<int> block = LastWorkBlock();
  if (!block.ok()) return block.status();
  v1::JoinClassRequest request;
  request.mutable_effort()->set_block_index(*block);
  request.mutable_effort()->set_feel(feel);
  return Submit(std::move(request));
}

absl::StatusOr<std::string> ParticipantSession::ReportCr10(int cr10) {
  absl::StatusOr<int> block = LastWorkBlock();
  if (!block.ok()) return block.status();
  v1::JoinClassRequest request;
  request.mutable_effort()->set_block_index(*block);
  request.mutable_effort()->set_cr10(cr10);
  return Submit(std::move(request));
}

absl::StatusOr<std::string> ParticipantSession::ReportSymptom(
    v1::Symptom symptom, const std::string& text) {
  absl::StatusOr<int> block = LastWorkBlock();
  if (!block.ok()) return block.status();
  v1::JoinClassRequest request;
  request.mutable_symptom()->set_block_index(*block);
  request.mutable_symptom()->set_symptom(symptom);
  request.mutable_symptom()->set_other_text(text);
  return Submit(std::move(request));
}

void ParticipantSession::Leave() {
  {
    absl::MutexLock write_lock(&write_mu_);
    absl::MutexLock lock(&mu_);
    CloseAfterStream();
    if (stream_ != nullptr) {
      v1::JoinClassRequest leave;
      leave.mutable_leave();
      if (stream_->Write(leave)) return;
    }
  }
  // Not connected: the seat is held until the server's hold time runs out.
  Stop();
}

int ParticipantSession::PendingReports() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(pending_.size());
}

bool ParticipantSession::WaitForAllAcked(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.empty() || status_.link == LinkState::kClosed ||
           status_.link == LinkState::kFailed;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return pending_.empty();
}

absl::optional<v1::ReportAck> ParticipantSession::WaitForAck(
    const std::string& id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return acks_.count(id) > 0 || status_.link == LinkState::kClosed ||
           status_.link == LinkState::kFailed;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  auto it = acks_.find(id);
  if (it == acks_.end()) return absl::nullopt;
  return it->second;
}

absl::optional<v1::ReportAck> ParticipantSession::Ack(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = acks_.find(id);
  if (it == acks_.end()) return absl::nullopt;
  return it->second;
}

std::deque<v1::ReportAck> ParticipantSession::RecentAcks() const {
  absl::MutexLock lock(&mu_);
  return recent_acks_;
}

std::string ParticipantSession::ResumeToken() const {
  absl::MutexLock lock(&mu_);
  return resume_token_;
}

v1::Joined ParticipantSession::Joined() const {
  absl::MutexLock lock(&mu_);
  return joined_;
}

// --- KioskSession ------------------------------------------------------------

KioskSession::KioskSession(std::shared_ptr<Connection> connection,
                           std::string kiosk_key, std::string class_id,
                           SessionOptions options)
    : LiveSession(std::move(connection), options),
      key_(std::move(kiosk_key)),
      class_id_(std::move(class_id)) {}

KioskSession::~KioskSession() { Stop(); }

grpc::Status KioskSession::RunStream(grpc::ClientContext* context) {
  v1::WatchClassRequest request;
  request.set_class_id(class_id_);
  request.set_accept_batches(true);
  {
    absl::MutexLock lock(&mu_);
    request.set_last_seq(mirror_.last_seq());
  }
  std::unique_ptr<grpc::ClientReader<v1::WatchClassResponse>> stream =
      connection_->stub()->WatchClass(context, request);
  v1::WatchClassResponse read;
  while (stream->Read(&read)) {
    ForEachMessage(read, [&](const v1::WatchClassResponse& response) {
      {
        absl::MutexLock lock(&mu_);
        ApplyCommon(response);
      }
      Notify(&response);
    });
  }
  return stream->Finish();
}

}  // namespace circuit::client
