#include "server/engine/class_session.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/engine/adaptation.h"
#include "server/engine/report_validation.h"

namespace circuit::engine {
namespace {

constexpr size_t kKeptAlerts = 200;
constexpr int kKeptDropAlerts = 100;

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

std::string SuggestionKey(v1::SuggestionKind kind,
                          const std::string& exercise_id,
                          const std::string& suggested_exercise_id) {
  return absl::StrCat(static_cast<int>(kind), "|", exercise_id, "|",
                      suggested_exercise_id);
}

}  // namespace

absl::Status ClassSession::ClassEnded() {
  return absl::FailedPreconditionError("the class has ended");
}

ClassSession::ClassSession(const v1::ClassInfo& info,
                           const v1::Circuit& circuit,
                           const CircuitLibrary* library,
                           SessionOptions options)
    : info_(info),
      circuit_(circuit),
      library_(library),
      options_(options),
      log_(options.retention_events),
      intervals_(PlanIntervals(circuit, *library)),
      exercises_(library->ExercisesFor(circuit)) {
  info_.set_phase(v1::CLASS_PHASE_LOBBY);
  info_.set_started_unix_ms(0);
  info_.set_ended_unix_ms(0);
  info_.set_participant_count(0);
}

// --- Events ------------------------------------------------------------------

int64_t ClassSession::Emit(v1::ClassEvent event, Audience audience,
                           const std::string& participant_id, int64_t now_ms) {
  return log_.Append(std::move(event), audience, participant_id, now_ms);
}

int64_t ClassSession::EmitState(absl::Time now) {
  v1::ClassEvent event;
  *event.mutable_state() = State(now);
  return Emit(std::move(event), Audience::kPublic, "", Millis(now));
}

// --- Participants ------------------------------------------------------------

ClassSession::Participant* ClassSession::FindParticipant(
    const std::string& participant_id) {
  auto it = by_id_.find(participant_id);
  return it == by_id_.end() ? nullptr : &participants_[it->second];
}

const ClassSession::Participant* ClassSession::FindParticipant(
    const std::string& participant_id) const {
  auto it = by_id_.find(participant_id);
  return it == by_id_.end() ? nullptr : &participants_[it->second];
}

void ClassSession::MarkDirty(Participant& p) {
  if (!p.roster_dirty) {
    p.roster_dirty = true;
    roster_dirty_.push_back(p.order);
  }
}

bool ClassSession::OnWall(const Participant& p) const {
  return p.check_in.show_name_on_kiosk() &&
         p.connection != v1::CONNECTION_STATE_LEFT;
}

void ClassSession::UpdateWall(Participant& p, int64_t new_rank) {
  if (OnWall(p)) wall_.erase({p.wall_rank, p.order});
  p.wall_rank = new_rank;
  if (OnWall(p)) wall_.insert({p.wall_rank, p.order});
}

absl::Status ValidateCheckIn(const v1::CheckIn& check_in) {
  const std::string name(absl::StripAsciiWhitespace(check_in.display_name()));
  if (absl::Status name_ok = CheckText("display_name", name, 1, 40);
      !name_ok.ok()) {
    return name_ok;
  }
  if (!v1::RecoveryTrack_IsValid(check_in.track())) {
    return absl::InvalidArgumentError(
        absl::StrCat("track ", check_in.track(), " is not a known value"));
  }
  if (check_in.has_weeks_postpartum() &&
      (check_in.weeks_postpartum() < 0 || check_in.weeks_postpartum() > 520)) {
    return absl::InvalidArgumentError(
        absl::StrCat("weeks_postpartum must be 0 to 520, got ",
                     check_in.weeks_postpartum()));
  }
  if (absl::Status equipment_ok =
          CheckText("equipment", check_in.equipment(), 0, 64);
      !equipment_ok.ok()) {
    return equipment_ok;
  }
  return absl::OkStatus();
}

absl::Status ClassSession::CheckJoin(const std::string& participant_id,
                                     const v1::CheckIn& check_in) const {
  if (participant_id.empty()) {
    return absl::InvalidArgumentError("participant id must not be empty");
  }
  if (absl::Status valid = ValidateCheckIn(check_in); !valid.ok()) {
    return valid;
  }
  if (phase_ == v1::CLASS_PHASE_ENDED) return ClassEnded();
  if (by_id_.contains(participant_id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("participant ", participant_id, " already checked in"));
  }
  if (participants_.size() >=
      static_cast<size_t>(std::max(options_.max_participants, 0))) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the class is full (", options_.max_participants, " participants)"));
  }
  return absl::OkStatus();
}

absl::Status ClassSession::Join(const std::string& participant_id,
                                const v1::CheckIn& check_in, absl::Time now,
                                const std::string& profile_id,
                                const std::vector<v1::Suggestion>& plan) {
  if (absl::Status s = CheckJoin(participant_id, check_in); !s.ok()) return s;
  const std::string name(absl::StripAsciiWhitespace(check_in.display_name()));

  const int64_t now_ms = Millis(now);
  const int order = static_cast<int>(participants_.size());
  Participant& p = participants_.emplace_back();
  p.id = participant_id;
  p.check_in = check_in;
  p.check_in.set_display_name(name);
  p.profile_id = profile_id;
  p.order = order;
  p.connection = v1::CONNECTION_STATE_CONNECTED;
  p.connection_changed_ms = now_ms;
  by_id_[participant_id] = order;
  ++connected_count_;
  info_.set_participant_count(participant_count());
  if (OnWall(p)) wall_.insert({p.wall_rank, p.order});
  MarkDirty(p);
  progress_changed_ = true;

  v1::ClassEvent event;
  *event.mutable_participant_joined() = RosterEntryFor(p);
  Emit(std::move(event), Audience::kInstructorAndParticipant, p.id, now_ms);
  for (const v1::Suggestion& item : plan) {
    SuggestionToMake make;
    make.kind = item.kind();
    make.exercise_id = item.exercise_id();
    make.suggested_exercise_id = item.suggested_exercise_id();
    make.suggested_exercise_name = item.suggested_exercise_name();
    make.reason = item.reason();
    make.from_history = true;
    make.start_side = item.start_side();
    make.suggested_stage_id = item.suggested_stage_id();
    make.suggested_stage_name = item.suggested_stage_name();
    Suggest(p, std::move(make), now_ms);
  }
  return absl::OkStatus();
}

void ClassSession::ChangeConnection(Participant& p, v1::ConnectionState state,
                                    int64_t now_ms) {
  const v1::ConnectionState old = p.connection;
  if (old == v1::CONNECTION_STATE_CONNECTED) --connected_count_;
  if (old == v1::CONNECTION_STATE_DROPPED) {
    --dropped_count_;
    holds_.erase({p.hold_until_ms, p.order});
  }
  if (state == v1::CONNECTION_STATE_LEFT) {
    // A participant who left no longer counts in the live figures; their
    // reps stay in the class total.
    if (OnWall(p)) wall_.erase({p.wall_rank, p.order});
    if (p.done_current) --done_current_count_;
    CountEffort(p, -1);
  }
  p.connection = state;
  p.connection_changed_ms = now_ms;
  if (state == v1::CONNECTION_STATE_CONNECTED) ++connected_count_;
  if (state == v1::CONNECTION_STATE_DROPPED) {
    ++dropped_count_;
    p.hold_until_ms = now_ms + absl::ToInt64Milliseconds(options_.hold);
    holds_.insert({p.hold_until_ms, p.order});
  }
  info_.set_participant_count(participant_count());
  MarkDirty(p);
  progress_changed_ = true;

  v1::ClassEvent event;
  v1::ParticipantConnectionChanged* changed = event.mutable_connection();
  changed->set_participant_id(p.id);
  changed->set_display_name(p.check_in.display_name());
  changed->set_connection(state);
  Emit(std::move(event), Audience::kInstructor, "", now_ms);
}

absl::Status ClassSession::SetConnection(const std::string& participant_id,
                                         v1::ConnectionState state,
                                         absl::Time now) {
  if (state != v1::CONNECTION_STATE_CONNECTED &&
      state != v1::CONNECTION_STATE_DROPPED &&
      state != v1::CONNECTION_STATE_LEFT) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection state ", state, " is not a known value"));
  }
  Participant* p = FindParticipant(participant_id);
  if (p == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("participant ", participant_id, " is not in this class"));
  }
  if (p->connection == state) return absl::OkStatus();
  if (p->connection == v1::CONNECTION_STATE_LEFT) {
    return absl::FailedPreconditionError(
        absl::StrCat("participant ", participant_id, " has left the class"));
  }
  // Once the class is over there is nothing to hold a seat for.
  if (state == v1::CONNECTION_STATE_DROPPED &&
      phase_ == v1::CLASS_PHASE_ENDED) {
    state = v1::CONNECTION_STATE_LEFT;
  }
  const int64_t now_ms = Millis(now);
  ChangeConnection(*p, state, now_ms);
  if (state == v1::CONNECTION_STATE_DROPPED) {
    if (std::optional<AlertToRaise> alert =
            ReactToDrop(p->check_in.display_name(), options_.hold,
                        CurrentBlock(), phase_ == v1::CLASS_PHASE_ENDED)) {
      RaiseAlert(*p, std::move(*alert), now_ms);
    }
  }
  return absl::OkStatus();
}

// --- Reports -----------------------------------------------------------------

const v1::Exercise* ClassSession::BlockExercise(int32_t block_index) const {
  if (block_index < 0 || block_index >= circuit_.blocks_size()) return nullptr;
  return library_->FindExercise(circuit_.blocks(block_index).exercise_id());
}

int32_t ClassSession::CurrentBlock() const {
  return current_ >= 0 ? intervals_[static_cast<size_t>(current_)].block_index()
                       : -1;
}

ReportContext ClassSession::CurrentReportContext() const {
  ReportContext context;
  context.circuit = &circuit_;
  context.library = library_;
  context.phase = phase_;
  context.current_block = CurrentBlock();
  context.max_reports_per_participant = options_.max_reports_per_participant;
  return context;
}

absl::Status ClassSession::CheckReport(
    const internal::ReportInput& report,
    std::optional<ReportResult>* duplicate) const {
  if (absl::Status s = CheckIsReport(report); !s.ok()) return s;
  const Participant* p = FindParticipant(report.participant_id());
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "participant ", report.participant_id(), " is not in this class"));
  }
  const std::string& report_id = ReportId(report);
  if (absl::Status s = CheckReportId(report_id); !s.ok()) return s;
  // A known id is acknowledged again without looking at the phase: a retry
  // after the class ended still gets the ack of what was accepted.
  if (auto it = p->reports.find(report_id); it != p->reports.end()) {
    if (duplicate != nullptr) *duplicate = ReportResult{it->second.seq, true};
    return absl::OkStatus();
  }
  ReporterState reporter;
  reporter.participant_id = p->id;
  reporter.left = p->connection == v1::CONNECTION_STATE_LEFT;
  reporter.reports_made = p->reports.size();
  return ValidateNewReport(CurrentReportContext(), reporter, report);
}

absl::StatusOr<ReportResult> ClassSession::Record(
    const internal::ReportInput& report, absl::Time now) {
  std::optional<ReportResult> duplicate;
  if (absl::Status s = CheckReport(report, &duplicate); !s.ok()) return s;
  if (duplicate.has_value()) return *duplicate;
  // Accepted: from here on nothing fails.
  Participant& p = *FindParticipant(report.participant_id());
  const int64_t now_ms = Millis(now);
  switch (report.kind_case()) {
    case internal::ReportInput::kCompletion:
      return ApplyCompletion(p, report.completion(), now_ms);
    case internal::ReportInput::kEffort:
      return ApplyEffort(p, report.effort(), now_ms);
    case internal::ReportInput::kSymptom:
      return ApplySymptom(p, report.symptom(), now_ms);
    case internal::ReportInput::KIND_NOT_SET:
      break;
  }
  return absl::InternalError("unreachable: CheckReport let an empty report by");
}

int64_t ClassSession::RecordReport(Participant& p, const std::string& report_id,
                                   v1::ReportRecorded recorded,
                                   int64_t now_ms) {
  recorded.set_participant_id(p.id);
  v1::ClassEvent event;
  *event.mutable_report() = std::move(recorded);
  // The instructor sees it in the roster changes of the next tick.
  const int64_t seq =
      Emit(std::move(event), Audience::kParticipant, p.id, now_ms);
  p.reports.emplace(report_id, ReportResult{seq, false});
  MarkDirty(p);
  return seq;
}

ReportResult ClassSession::ApplyCompletion(Participant& p,
                                           const v1::CompletionReport& report,
                                           int64_t now_ms) {
  const SetKey key{report.block_index(), report.side(), report.set()};
  auto [it, inserted] = p.completions.try_emplace(key, report.reps());
  const int32_t old_reps = inserted ? 0 : it->second;
  it->second = report.reps();
  p.total_reps += report.reps() - old_reps;
  total_reps_ += report.reps() - old_reps;
  if (report.parts_size() == 0) {
    p.completion_parts.erase(key);
  } else {
    // Validated: each of the exercise's parts once. Kept in its order.
    const v1::Exercise* exercise = BlockExercise(report.block_index());
    std::vector<v1::PartDone>& parts = p.completion_parts[key];
    parts.clear();
    for (int i = 0; exercise != nullptr && i < exercise->parts_size(); ++i) {
      for (const v1::PartDone& done : report.parts()) {
        if (done.part_id() == exercise->parts(i).id()) parts.push_back(done);
      }
    }
  }
  UpdateWall(p, -(++completion_count_));
  if (!p.done_current && IsDone(p)) {
    p.done_current = true;
    ++done_current_count_;
  }
  progress_changed_ = true;

  v1::ReportRecorded recorded;
  *recorded.mutable_completion() = report;
  const int64_t seq = RecordReport(p, report.report_id(), recorded, now_ms);

  React(p,
        ReactToCompletion(AdaptationNow(), report,
                          BlockReps(p, report.block_index())),
        now_ms);
  return ReportResult{seq, false};
}

ReportResult ClassSession::ApplyEffort(Participant& p,
                                       const v1::EffortReport& report,
                                       int64_t now_ms) {
  CountEffort(p, -1);
  if (report.has_cr10()) p.last_cr10 = report.cr10();
  if (report.feel() != v1::EFFORT_FEEL_UNSPECIFIED) p.last_feel = report.feel();
  CountEffort(p, +1);
  v1::EffortRecord& record = p.efforts.emplace_back();
  record.set_block_index(report.block_index());
  if (report.has_cr10()) record.set_cr10(report.cr10());
  record.set_feel(report.feel());
  record.set_reported_unix_ms(now_ms);

  v1::ReportRecorded recorded;
  *recorded.mutable_effort() = report;
  const int64_t seq = RecordReport(p, report.report_id(), recorded, now_ms);

  EffortReaction reaction =
      ReactToEffort(AdaptationNow(), p.check_in.display_name(), report,
                    p.too_hard_streak, BlockReps(p, report.block_index()));
  p.too_hard_streak = reaction.too_hard_streak;
  React(p, std::move(reaction.reactions), now_ms);
  return ReportResult{seq, false};
}

ReportResult ClassSession::ApplySymptom(Participant& p,
                                        const v1::SymptomReport& report,
                                        int64_t now_ms) {
  const std::string other_text = RecordedOtherText(report);
  v1::SymptomRecord& record = p.symptoms.emplace_back();
  record.set_block_index(report.block_index());
  record.set_symptom(report.symptom());
  record.set_other_text(other_text);
  record.set_reported_unix_ms(now_ms);
  v1::ReportRecorded recorded;
  *recorded.mutable_symptom() = report;
  const int64_t seq = RecordReport(p, report.report_id(), recorded, now_ms);

  React(p,
        ReactToSymptom(AdaptationNow(), p.check_in.display_name(), report,
                       other_text, CurrentBlock()),
        now_ms);
  return ReportResult{seq, false};
}

// --- Alerts and suggestions --------------------------------------------------

AdaptationContext ClassSession::AdaptationNow() const {
  return AdaptationContext{&circuit_, library_};
}

std::vector<int32_t> ClassSession::BlockReps(const Participant& p,
                                             int32_t block_index) const {
  std::vector<int32_t> reps;
  for (auto c = p.completions.lower_bound({block_index, 0, 0});
       c != p.completions.end() && std::get<0>(c->first) == block_index; ++c) {
    reps.push_back(c->second);
  }
  return reps;
}

void ClassSession::React(Participant& p, std::vector<Reaction> reactions,
                         int64_t now_ms) {
  for (Reaction& reaction : reactions) {
    if (auto* alert = std::get_if<AlertToRaise>(&reaction)) {
      RaiseAlert(p, std::move(*alert), now_ms);
    } else {
      Suggest(p, std::move(std::get<SuggestionToMake>(reaction)), now_ms);
    }
  }
}

void ClassSession::RaiseAlert(Participant& p, AlertToRaise raise,
                              int64_t now_ms) {
  v1::Alert alert;
  alert.set_alert_id(absl::StrCat("a", ++alert_count_));
  alert.set_participant_id(p.id);
  alert.set_display_name(p.check_in.display_name());
  alert.set_kind(raise.kind);
  alert.set_severity(raise.severity);
  alert.set_symptom(raise.symptom);
  alert.set_text(std::move(raise.text));
  alert.set_raised_unix_ms(now_ms);
  alert.set_block_index(raise.block_index);
  alerts_.push_back(alert);
  while (alerts_.size() > kKeptAlerts) alerts_.pop_front();
  // A participant's history keeps every alert drawn from reports (at most
  // one per report, so bounded by the report limit) and a bounded number of
  // drop alerts, which a flapping connection could make without end.
  if (alert.kind() != v1::ALERT_KIND_DROPPED ||
      p.drop_alerts++ < kKeptDropAlerts) {
    p.alerts.push_back(alert);
  }
  v1::ClassEvent event;
  *event.mutable_alert() = std::move(alert);
  Emit(std::move(event), Audience::kInstructor, "", now_ms);
}

void ClassSession::Suggest(Participant& p, SuggestionToMake make,
                           int64_t now_ms) {
  // One open suggestion of a kind per exercise: repeating it while the coach
  // has not decided only adds noise.
  if (!p.undecided
           .insert(SuggestionKey(make.kind, make.exercise_id,
                                 make.suggested_exercise_id))
           .second) {
    return;
  }
  v1::Suggestion suggestion;
  suggestion.set_suggestion_id(absl::StrCat("s", suggestion_index_.size() + 1));
  suggestion.set_participant_id(p.id);
  suggestion.set_kind(make.kind);
  suggestion.set_exercise_id(std::move(make.exercise_id));
  suggestion.set_suggested_exercise_id(std::move(make.suggested_exercise_id));
  suggestion.set_suggested_exercise_name(
      std::move(make.suggested_exercise_name));
  suggestion.set_reason(std::move(make.reason));
  suggestion.set_from_history(make.from_history);
  suggestion.set_start_side(make.start_side);
  suggestion.set_suggested_stage_id(std::move(make.suggested_stage_id));
  suggestion.set_suggested_stage_name(std::move(make.suggested_stage_name));
  suggestion.set_made_unix_ms(now_ms);
  suggestion.set_decision(v1::SUGGESTION_DECISION_UNSPECIFIED);
  suggestion_index_.emplace_back(p.order,
                                 static_cast<int>(p.suggestions.size()));
  p.suggestions.push_back(suggestion);
  v1::ClassEvent event;
  *event.mutable_suggestion() = std::move(suggestion);
  Emit(std::move(event), Audience::kInstructorAndParticipant, p.id, now_ms);
}

void ClassSession::CountEffort(const Participant& p, int sign) {
  if (p.connection == v1::CONNECTION_STATE_LEFT) return;
  if (p.last_cr10.has_value()) {
    cr10_counts_[static_cast<size_t>(*p.last_cr10)] += sign;
  }
  if (p.last_feel != v1::EFFORT_FEEL_UNSPECIFIED) {
    feel_counts_[static_cast<size_t>(p.last_feel)] += sign;
  }
}

absl::StatusOr<int64_t> ClassSession::ApplyDecision(
    const v1::DecideSuggestionCommand& decide, absl::Time now) {
  const v1::SuggestionDecision decision = decide.decision();
  if (decision != v1::SUGGESTION_DECISION_ACCEPTED &&
      decision != v1::SUGGESTION_DECISION_DISMISSED) {
    return absl::InvalidArgumentError(
        absl::StrCat("decision must be ACCEPTED or DISMISSED, got ", decision));
  }
  const std::string& id = decide.suggestion_id();
  uint64_t number = 0;
  if (id.size() < 2 || id[0] != 's' ||
      !absl::SimpleAtoi(absl::string_view(id).substr(1), &number) ||
      number < 1 || number > suggestion_index_.size() ||
      absl::StrCat("s", number) != id) {
    return absl::NotFoundError(absl::StrCat("no suggestion ", id));
  }
  const auto [participant, position] =
      suggestion_index_[static_cast<size_t>(number - 1)];
  if (participant < 0) {  // erased with its participant's health data
    return absl::NotFoundError(absl::StrCat("no suggestion ", id));
  }
  Participant& p = participants_[static_cast<size_t>(participant)];
  v1::Suggestion& suggestion = p.suggestions[static_cast<size_t>(position)];
  suggestion.set_decision(decision);
  p.undecided.erase(SuggestionKey(suggestion.kind(), suggestion.exercise_id(),
                                  suggestion.suggested_exercise_id()));
  v1::ClassEvent event;
  *event.mutable_suggestion() = suggestion;
  return Emit(std::move(event), Audience::kInstructorAndParticipant, p.id,
              Millis(now));
}

// --- Health data -------------------------------------------------------------

absl::Status ClassSession::EraseHealthData(const std::string& participant_id) {
  if (phase_ != v1::CLASS_PHASE_ENDED) {
    return absl::FailedPreconditionError(
        "health data can be erased once the class has ended");
  }
  if (!participant_id.empty() && FindParticipant(participant_id) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("participant ", participant_id, " is not in this class"));
  }
  auto erased = [&participant_id](const std::string& id) {
    return participant_id.empty() || id == participant_id;
  };
  for (Participant& p : participants_) {
    if (!erased(p.id)) continue;
    CountEffort(p, -1);
    p.last_cr10.reset();
    p.last_feel = v1::EFFORT_FEEL_UNSPECIFIED;
    p.too_hard_streak = 0;
    p.efforts.clear();
    p.symptoms.clear();
    p.alerts.clear();
    p.suggestions.clear();
    p.undecided.clear();
    p.health_data_removed = true;
    MarkDirty(p);
  }
  // Their suggestion ids are no longer known.
  for (auto& [participant, position] : suggestion_index_) {
    if (participant >= 0 &&
        erased(participants_[static_cast<size_t>(participant)].id)) {
      participant = -1;
      position = -1;
    }
  }
  alerts_.erase(std::remove_if(alerts_.begin(), alerts_.end(),
                               [&](const v1::Alert& alert) {
                                 return erased(alert.participant_id());
                               }),
                alerts_.end());
  log_.RemoveIf([&](const Event& e) {
    const v1::ClassEvent& event = e.event;
    switch (event.kind_case()) {
      case v1::ClassEvent::kReport:
        return !event.report().has_completion() &&
               erased(event.report().participant_id());
      case v1::ClassEvent::kAlert:
        return erased(event.alert().participant_id());
      case v1::ClassEvent::kSuggestion:
        return erased(event.suggestion().participant_id());
      default:
        return false;
    }
  });
  return absl::OkStatus();
}

absl::Status ClassSession::EraseSeat(const std::string& participant_id) {
  if (participant_id.empty()) {
    return absl::InvalidArgumentError("name the participant to erase");
  }
  if (absl::Status health = EraseHealthData(participant_id); !health.ok()) {
    return health;
  }
  Participant& p = *FindParticipant(participant_id);
  if (OnWall(p)) wall_.erase({p.wall_rank, p.order});
  total_reps_ -= p.total_reps;
  p.total_reps = 0;
  p.completions.clear();
  p.reports.clear();
  p.check_in = v1::CheckIn();
  p.erased = true;
  MarkDirty(p);
  log_.RemoveIf([&](const Event& e) {
    const v1::ClassEvent& event = e.event;
    switch (event.kind_case()) {
      case v1::ClassEvent::kReport:
        return event.report().participant_id() == participant_id;
      case v1::ClassEvent::kParticipantJoined:
        return event.participant_joined().participant_id() == participant_id;
      default:
        return false;
    }
  });
  return absl::OkStatus();
}

// --- Replay ------------------------------------------------------------------

EntryOutcome ClassSession::ApplyEntry(const internal::Entry& entry) {
  EntryOutcome out;
  // A time outside 1970..9999 is a damaged journal, not a class: holds and
  // deadlines are sums of times and durations, defined for real times only.
  constexpr int64_t kLatestEntryMs = 253'402'300'799'999;  // 9999-12-31
  if (entry.at_unix_ms() < 0 || entry.at_unix_ms() > kLatestEntryMs) {
    out.status = absl::InvalidArgumentError(
        absl::StrCat("the journal entry's time (", entry.at_unix_ms(),
                     " ms) is not between 1970 and 9999"));
    return out;
  }
  const absl::Time at = absl::FromUnixMillis(entry.at_unix_ms());
  switch (entry.input_case()) {
    case internal::Entry::kJoin: {
      const internal::JoinInput& join = entry.join();
      out.status =
          Join(join.participant_id(), join.check_in(), at, join.profile_id(),
               {join.plan().begin(), join.plan().end()});
      break;
    }
    case internal::Entry::kConnection:
      out.status = SetConnection(entry.connection().participant_id(),
                                 entry.connection().state(), at);
      break;
    case internal::Entry::kReport: {
      absl::StatusOr<ReportResult> result = Record(entry.report(), at);
      if (result.ok()) {
        out.seq = result->seq;
        out.duplicate = result->duplicate;
      } else {
        out.status = result.status();
      }
      break;
    }
    case internal::Entry::kCommand: {
      absl::StatusOr<int64_t> seq = Apply(entry.command(), at);
      if (seq.ok()) {
        out.seq = *seq;
      } else {
        out.status = seq.status();
      }
      break;
    }
    case internal::Entry::kTick:
      Tick(at);
      break;
    case internal::Entry::kRestart:
      Restart(at);
      break;
    case internal::Entry::kToken:
      break;  // a seat's token: the registry's business
    case internal::Entry::INPUT_NOT_SET:
      out.status = absl::InvalidArgumentError("the journal entry has no input");
      break;
  }
  return out;
}

}  // namespace circuit::engine
