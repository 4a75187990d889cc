#ifndef CIRCUIT_SERVER_ENGINE_CLASS_SESSION_H_
#define CIRCUIT_SERVER_ENGINE_CLASS_SESSION_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/live.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/engine/adaptation.h"
#include "server/engine/event_log.h"
#include "server/engine/report_validation.h"
#include "server/library/circuit_library.h"

namespace circuit::engine {

// The outcome of an accepted report.
struct ReportResult {
  int64_t seq = 0;         // the event that recorded it
  bool duplicate = false;  // the id was recorded before; nothing counted again
};

// The outcome of applying one journaled input (ClassSession::ApplyEntry).
struct EntryOutcome {
  absl::Status status;     // the refusal, if any
  int64_t seq = 0;         // the report's or command's event seq
  bool duplicate = false;  // a report whose id was recorded before
};

// The plan of a class: the circuit expanded into intervals, in order. For
// each block, for each set, a work interval per side (one with SIDE_BOTH when
// the exercise is not one-sided, else SIDE_LEFT then SIDE_RIGHT), with a rest
// of rest_between_sides_seconds between the sides of a set, of
// rest_between_sets_seconds between sets, and of rest_after_seconds after the
// block's last set unless it is the last block. Rests of 0 seconds are left
// out. `library` must hold every exercise the circuit uses.
std::vector<v1::Interval> PlanIntervals(const v1::Circuit& circuit,
                                        const CircuitLibrary& library);

// How a ClassSession bounds and times what it keeps. A session that replays
// a class's journal must get the options the class ran with: the hold and
// the limits decide outcomes.
// A check-in's fields: display_name 1..40 characters after trimming, a known
// track, weeks_postpartum 0..520, equipment at most 64 characters;
// INVALID_ARGUMENT saying which is wrong.
absl::Status ValidateCheckIn(const v1::CheckIn& check_in);

struct SessionOptions {
  // How many events the session keeps for resuming clients.
  size_t retention_events = 4096;
  // How long a dropped participant's seat and progress are held.
  absl::Duration hold = absl::Minutes(10);
  // Most reports one participant may make in a class (memory bound).
  int max_reports_per_participant = 5000;
  // Most participants in a class.
  int max_participants = 20000;
};

// One live class: its plan, phase, timer, roster, progress, history, alerts,
// suggestions and numbered event log. Pure and deterministic: no I/O, no
// threads, no clock of its own (every call that needs the time takes it), no
// randomness, so applying the same inputs at the same times to a fresh
// session gives the same events, state and outcomes. That is how a class is
// rebuilt after a crash: circuitd journals every input (circuit.internal.
// Entry) before applying it, and replays them through ApplyEntry.
//
// A ClassSession is not thread-safe; its owner (the class's runner)
// serializes calls. Every accepted change appends one or more events; the
// owner takes them with DrainEvents() after each call and publishes them.
// Rejected input returns a status and changes nothing:
//   INVALID_ARGUMENT     malformed input (reps outside 0..100, no such block,
//                        set or side, bad enum, text too long, empty id, a
//                        report or entry with nothing in it)
//   FAILED_PRECONDITION  valid but not now (block not reached, class ended or
//                        not ended, participant left, command not allowed in
//                        this phase)
//   NOT_FOUND            unknown participant or suggestion
//   ALREADY_EXISTS       a participant id checked in twice
//   RESOURCE_EXHAUSTED   class full, too many reports
class ClassSession {
 public:
  // `circuit` is copied; `library` must hold every exercise the circuit uses
  // and outlive the session. `info` gives class_id, join_code, circuit_id,
  // circuit_name, title and created_unix_ms; the session keeps phase, times
  // and participant_count.
  ClassSession(const v1::ClassInfo& info, const v1::Circuit& circuit,
               const CircuitLibrary* library, SessionOptions options);

  // --- Participants -------------------------------------------------------

  // Checks a participant in, CONNECTED, with an id the caller chose (seats
  // and resume tokens are the registry's; the session knows participants by
  // id). Emits participant_joined (instructor and that participant).
  // INVALID_ARGUMENT for an empty id or a bad check-in (display_name 1..40
  // characters after trimming, a known track, weeks_postpartum 0..520,
  // equipment at most 64 characters); FAILED_PRECONDITION once ENDED;
  // ALREADY_EXISTS for an id already checked in; RESOURCE_EXHAUSTED when
  // max_participants have checked in.
  // `profile_id` links the seat to a kept profile (shown in the roster and
  // the summary); `plan` is her plan for today (from_history suggestions,
  // made after the join event, numbered like every suggestion).
  absl::Status Join(const std::string& participant_id,
                    const v1::CheckIn& check_in, absl::Time now,
                    const std::string& profile_id = "",
                    const std::vector<v1::Suggestion>& plan = {});

  // The status Join(participant_id, check_in, now) would return now,
  // changing nothing (the owner checks before journaling a join).
  absl::Status CheckJoin(const std::string& participant_id,
                         const v1::CheckIn& check_in) const;

  // The participant's connection state; nullopt for an unknown participant.
  std::optional<v1::ConnectionState> Connection(
      const std::string& participant_id) const;
  // The kept profile the participant's seat is linked to; "" for none or an
  // unknown participant.
  std::string ProfileOf(const std::string& participant_id) const;

  // A participant's stream opened (CONNECTED), dropped (DROPPED: the seat is
  // held until `hold` runs out) or they left (LEFT, final). Each change emits
  // a connection event (instructor); a drop also raises an ALERT_KIND_DROPPED
  // alert (INFO). Once the class has ENDED a drop is a leave: there is no
  // seat to hold. Setting the state it already has is a no-op returning OK.
  // INVALID_ARGUMENT for an unknown state, NOT_FOUND for an unknown
  // participant, FAILED_PRECONDITION for one who left.
  absl::Status SetConnection(const std::string& participant_id,
                             v1::ConnectionState state, absl::Time now);

  // --- Reports --------------------------------------------------------------

  // Records report.participant_id's completion, effort or symptom. The
  // report_id makes it idempotent: a known id returns the first result with
  // duplicate = true and emits nothing, whatever the phase. A completion for
  // a (block, set, side) already reported under another id replaces the
  // earlier one (a correction), so counts stay right. The checks, in order
  // (report_validation.h):
  //   INVALID_ARGUMENT     "not a report" when it has no kind
  //   NOT_FOUND            unknown participant
  //   INVALID_ARGUMENT     report_id not 1..64 characters; no such block;
  //                        completion: no such set or side (SIDE_BOTH, or
  //                        LEFT/RIGHT when one-sided), reps outside 0..100,
  //                        load band over 32 characters or kilograms outside
  //                        0..500; effort: cr10 outside 0..10, unknown feel,
  //                        neither given; symptom: unknown, other_text over
  //                        140 characters or missing for SYMPTOM_OTHER
  //   FAILED_PRECONDITION  completion for a block not reached (or in the
  //                        lobby); effort in the lobby (symptoms are welcome
  //                        there); class ENDED; participant LEFT
  //   RESOURCE_EXHAUSTED   max_reports_per_participant reached
  // An accepted report emits a report event (instructor and participant) and
  // applies the adaptation rules (adaptation.h), which may emit alerts
  // (instructor) and suggestions (instructor and participant).
  absl::StatusOr<ReportResult> Record(const internal::ReportInput& report,
                                      absl::Time now);

  // The status Record(report, now) would return in the current state, without
  // changing anything (the time does not matter to the checks). For a known
  // report id: OK, with *duplicate set to the first result (duplicate =
  // true); otherwise *duplicate is left alone. `duplicate` may be null.
  absl::Status CheckReport(const internal::ReportInput& report,
                           std::optional<ReportResult>* duplicate) const;

  // --- Instructor ---------------------------------------------------------

  // Applies one command; returns the seq of the event it emitted.
  //   start: LOBBY only; the first interval begins now.
  //   pause: RUNNING only; resume: PAUSED only.
  //   next: RUNNING or PAUSED; past the last interval ends the class.
  //   previous: RUNNING or PAUSED, not at the first interval; fresh timer.
  //   adjust_time: RUNNING or PAUSED, timed interval, delta -600000..600000
  //     and not 0 (INVALID_ARGUMENT); at least 1 s remains.
  //   cue: free text 1..280 characters, or a canned cue index of the current
  //     exercise (INVALID_ARGUMENT when out of range, FAILED_PRECONDITION
  //     when no exercise is current); any phase but ENDED. Emits a cue event
  //     (public).
  //   end: any phase but ENDED.
  //   decide_suggestion: a known suggestion id (NOT_FOUND) and decision
  //     ACCEPTED or DISMISSED (INVALID_ARGUMENT), in any phase. Emits the
  //     suggestion again (instructor and its participant).
  // A command in the wrong phase is FAILED_PRECONDITION; one with no action
  // INVALID_ARGUMENT. Every state change emits a `state` event (public) with
  // the new state.
  absl::StatusOr<int64_t> Apply(const v1::InstructorCommand& command,
                                absl::Time now);

  // --- Time -----------------------------------------------------------------

  // Advances time: a RUNNING timed interval whose deadline passed moves to
  // the next interval (with its deadline counted from the old deadline, not
  // from `now`, so screens stay in step), unless it waits for the
  // instructor, in which case it stays with the timer at 0. Past the last
  // interval the class ends. Dropped participants whose hold ran out become
  // LEFT. Call often (the runner calls it every 100 ms).
  void Tick(absl::Time now);

  // True exactly when Tick(now) would change anything: a RUNNING timed
  // interval that does not wait for the instructor has its deadline at or
  // before `now`, or a dropped participant's hold ran out. The owner journals
  // a tick only then.
  bool TickDue(absl::Time now) const;

  // circuitd restarted with this class open. A RUNNING or PAUSED class
  // becomes PAUSED at its current interval with the interval's full duration
  // left (a state event), and a public cue says so. Every CONNECTED
  // participant becomes DROPPED with a hold counted from `now` (connection
  // events, but no drop alerts: one per participant would flood the
  // instructor). In the lobby only connections change; an ENDED class does
  // not change.
  void Restart(absl::Time now);

  // --- Replay -------------------------------------------------------------

  // Applies one journaled input at entry.at_unix_ms: join: Join; connection:
  // SetConnection; report: Record; command: Apply; tick: Tick; restart:
  // Restart; token: nothing (seats are the registry's). status is the
  // refusal, if any (INVALID_ARGUMENT for an entry with no input, or with a
  // time before 1970 or after 9999: a damaged journal); seq the report's or
  // command's event seq, 0 otherwise; duplicate as Record's.
  EntryOutcome ApplyEntry(const internal::Entry& entry);

  // --- Health data --------------------------------------------------------

  // Erases a participant's health data (every participant's when
  // `participant_id` is empty) from an ENDED class, on their request: their
  // efforts, symptoms, latest CR-10 and feel, suggestions and alerts, from
  // memory and from the retained events (their effort and symptom report
  // events, and the alert and suggestion events about them, are taken out;
  // a resuming client skips them). Reps, sets and attendance stay; Summary()
  // then shows health_data_removed for them, and their suggestion ids are
  // unknown (NOT_FOUND) to decide_suggestion. Emits nothing. The journal
  // erases the inputs behind it (Journal::EraseHealthData).
  // FAILED_PRECONDITION unless ENDED, NOT_FOUND for an unknown participant.
  absl::Status EraseHealthData(const std::string& participant_id);

  // Erases everything about one participant of an ENDED class (she erased
  // her kept profile): her health data as above, her check-in and reps, and
  // every event about her; her seat stays as `erased` in the summary. The
  // journal erases the inputs behind it (Journal::EraseProfile).
  // FAILED_PRECONDITION unless ENDED, NOT_FOUND for an unknown participant.
  absl::Status EraseSeat(const std::string& participant_id);

  // --- Events ---------------------------------------------------------------

  // Events accepted since the last call, in seq order.
  std::vector<Event> DrainEvents();

  // The highest seq so far (0 before any event).
  int64_t last_seq() const { return log_.last_seq(); }

  // Retained events with seq > `after_seq`, in order, the first `max` of
  // them; nullopt when some of them are no longer retained (the caller sends
  // a snapshot instead). Pointers stay valid until the next call that
  // changes the session.
  std::optional<std::vector<const Event*>> EventsAfter(
      int64_t after_seq, size_t max = SIZE_MAX) const;

  // --- Reading --------------------------------------------------------------

  const v1::ClassInfo& info() const { return info_; }
  v1::ClassPhase phase() const { return phase_; }
  // The public state as of `now` (the timer's remaining time depends on it).
  v1::ClassState State(absl::Time now) const;
  // The plan (PlanIntervals).
  const std::vector<v1::Interval>& intervals() const { return intervals_; }

  // Snapshots as of now. Each sets seq = last_seq() and reason INITIAL (the
  // caller changes the reason).
  v1::InstructorSnapshot InstructorSnapshot(absl::Time now) const;
  // NOT_FOUND for an unknown participant.
  absl::StatusOr<v1::ParticipantSnapshot> ParticipantSnapshot(
      const std::string& participant_id, absl::Time now) const;
  v1::KioskSnapshot KioskSnapshot(absl::Time now) const;

  // Class-wide progress now: counts, and the completion wall of consenting
  // participants only (latest to finish a set first, at most 48). Never
  // effort or symptoms.
  v1::ClassProgress Progress() const;

  // The class's record as of now (ClassSummary in circuit/v1/service.proto):
  // class info, aggregates, total reps, generated_unix_ms = now, and per
  // participant in check-in order: every reported set in class order (block,
  // set, then side; the latest reps of a corrected set), reps per exercise of
  // the circuit in class order (left, right and both-sides reps; `sets`
  // counts each reported set of a block once, whichever sides; exercises not
  // reported show zeros), total reps, every effort and symptom report, their
  // suggestions with the coach's decisions, every alert about them (not only
  // the class's latest 200; of drop alerts, the first 100), and their
  // connection now. Health data: for the instructor only.
  v1::ClassSummary Summary(absl::Time now) const;

  // The studio wall's summary: class id, title, phase, how many checked in
  // (left or not), total reps, and the display names and total reps of the
  // participants who agreed to be shown (show_name_on_kiosk), left or not,
  // most reps first (ties in check-in order). Never effort, symptoms or
  // anyone else's name.
  v1::WallSummary WallSummary() const;

  // True when progress changed since the last TakeProgressChanged().
  bool TakeProgressChanged();

  // Roster entries that changed since the last call (whole entries) and the
  // aggregates now; nullopt when nothing changed.
  std::optional<v1::RosterUpdate> TakeRosterUpdate();

  // Participants checked in (not LEFT).
  int participant_count() const;

 private:
  // (block_index, side, set) of a completion. Ordered so that iterating one
  // participant's completions walks blocks and sides in class order
  // (SIDE_LEFT sorts before SIDE_RIGHT).
  using SetKey = std::tuple<int32_t, int32_t, int32_t>;

  struct Participant {
    std::string id;
    v1::CheckIn check_in;  // display_name trimmed
    int order = 0;         // position in check-in order
    v1::ConnectionState connection = v1::CONNECTION_STATE_CONNECTED;
    int64_t connection_changed_ms = 0;
    int64_t hold_until_ms = 0;  // while DROPPED
    // Exactly-once: every accepted report id and its first result.
    absl::flat_hash_map<std::string, ReportResult> reports;
    // The latest reps per reported set (corrections replace).
    std::map<SetKey, int32_t> completions;
    // What was done of each part, for sets reported with parts (the 8-8-8
    // hip thrust), in the exercise's part order.
    std::map<SetKey, std::vector<v1::PartDone>> completion_parts;
    int32_t total_reps = 0;
    std::optional<int32_t> last_cr10;
    v1::EffortFeel last_feel = v1::EFFORT_FEEL_UNSPECIFIED;
    // History, for the summary: every effort and symptom report and every
    // alert about them (drop alerts: the first kKeptDropAlerts), oldest
    // first.
    std::vector<v1::EffortRecord> efforts;
    std::vector<v1::SymptomRecord> symptoms;
    std::vector<v1::Alert> alerts;
    int drop_alerts = 0;
    // Their efforts and symptoms, and what was drawn from them, were erased.
    bool health_data_removed = false;
    // Everything about them was erased (EraseSeat).
    bool erased = false;
    // Her kept profile, when she joined with one.
    std::string profile_id;
    int too_hard_streak = 0;
    // Key in wall_: -(completion number) of the latest completion, 0 when
    // none, so the most recent sorts first and the rest keep check-in order.
    int64_t wall_rank = 0;
    bool done_current = false;
    bool roster_dirty = false;
    // This participant's suggestions, oldest first (the canonical copies).
    std::vector<v1::Suggestion> suggestions;
    // Dedup keys of suggestions not decided yet.
    absl::flat_hash_set<std::string> undecided;
  };

  // FAILED_PRECONDITION for input that comes after the end.
  static absl::Status ClassEnded();

  // Appends an event numbered next; returns its seq.
  int64_t Emit(v1::ClassEvent event, Audience audience,
               const std::string& participant_id, int64_t now_ms);
  int64_t EmitState(absl::Time now);
  // Makes `index` current, starting at `start_ms`; keeps the phase (a paused
  // class stays paused with a full timer).
  void EnterInterval(int index, int64_t start_ms);
  void EndClass(int64_t ended_ms);
  // The two things Tick does, each due at `now_ms` or not.
  bool IntervalDue(int64_t now_ms) const;
  bool HoldDue(int64_t now_ms) const;
  // Recomputes every done_current flag after the current interval changed.
  void RefreshDoneCurrent();
  bool IsDone(const Participant& p) const;

  Participant* FindParticipant(const std::string& participant_id);
  const Participant* FindParticipant(const std::string& participant_id) const;
  // The block of the current interval; -1 when none is current.
  int32_t CurrentBlock() const;
  // What the report checks need to know about the class now.
  ReportContext CurrentReportContext() const;
  // Apply an accepted report (Record checked it): count it, emit its event,
  // then apply the adaptation rules.
  ReportResult ApplyCompletion(Participant& p,
                               const v1::CompletionReport& report,
                               int64_t now_ms);
  ReportResult ApplyEffort(Participant& p, const v1::EffortReport& report,
                           int64_t now_ms);
  ReportResult ApplySymptom(Participant& p, const v1::SymptomReport& report,
                            int64_t now_ms);
  int64_t RecordReport(Participant& p, const std::string& report_id,
                       v1::ReportRecorded recorded, int64_t now_ms);

  void ChangeConnection(Participant& p, v1::ConnectionState state,
                        int64_t now_ms);
  // Adds (+1) or removes (-1) a participant's latest effort to the
  // aggregates.
  void CountEffort(const Participant& p, int sign);
  void MarkDirty(Participant& p);
  void UpdateWall(Participant& p, int64_t new_rank);
  bool OnWall(const Participant& p) const;

  AdaptationContext AdaptationNow() const;
  // The participant's latest reps for every set and side reported in a block.
  std::vector<int32_t> BlockReps(const Participant& p,
                                 int32_t block_index) const;
  // Applies what the adaptation rules called for, in order.
  void React(Participant& p, std::vector<Reaction> reactions, int64_t now_ms);
  void RaiseAlert(Participant& p, AlertToRaise alert, int64_t now_ms);
  void Suggest(Participant& p, SuggestionToMake suggestion, int64_t now_ms);

  // Keeps `cue` (sent now) for snapshots and emits it (public).
  int64_t EmitCue(v1::Cue cue, int64_t now_ms);
  absl::StatusOr<int64_t> ApplyCue(const v1::CueCommand& cue, absl::Time now);
  absl::StatusOr<int64_t> ApplyDecision(
      const v1::DecideSuggestionCommand& decide, absl::Time now);

  v1::RosterEntry RosterEntryFor(const Participant& p) const;
  v1::ParticipantSummary SummaryFor(const Participant& p) const;
  v1::ParticipantProgress ProgressFor(const Participant& p) const;
  v1::ClassAggregates Aggregates() const;
  const v1::Exercise* BlockExercise(int32_t block_index) const;
  // The display name of a block's exercise; `block_index` must exist.
  std::string BlockExerciseName(int32_t block_index) const;

  v1::ClassInfo info_;
  v1::Circuit circuit_;
  const CircuitLibrary* library_;
  SessionOptions options_;
  EventLog log_;
  std::vector<v1::Interval> intervals_;
  std::vector<v1::Exercise> exercises_;  // library_->ExercisesFor(circuit_)

  v1::ClassPhase phase_ = v1::CLASS_PHASE_LOBBY;
  int current_ = -1;  // index into intervals_; -1 in the lobby and after
  int64_t interval_started_ms_ = 0;
  int64_t deadline_ms_ = 0;          // while RUNNING a timed interval
  int64_t paused_remaining_ms_ = 0;  // while PAUSED

  std::deque<v1::Cue> recent_cues_;
  std::deque<v1::Alert> alerts_;  // the latest 200
  int64_t alert_count_ = 0;
  // Suggestion number n (id "s<n>") -> (participant, position in its
  // suggestions), at n - 1; (-1, -1) once erased.
  std::vector<std::pair<int, int>> suggestion_index_;

  std::vector<Participant> participants_;
  absl::flat_hash_map<std::string, int> by_id_;
  // Dropped participants by hold expiry: (hold_until_ms, participant).
  std::set<std::pair<int64_t, int>> holds_;
  // Consenting participants not LEFT: (wall_rank, order).
  std::set<std::pair<int64_t, int>> wall_;
  int64_t completion_count_ = 0;

  // Incremental aggregates over participants not LEFT, so a report costs
  // O(log N) rather than a pass over the roster.
  int32_t connected_count_ = 0;
  int32_t dropped_count_ = 0;
  int32_t done_current_count_ = 0;
  int64_t total_reps_ = 0;
  std::array<int32_t, 11> cr10_counts_{};
  std::array<int32_t, 4> feel_counts_{};

  std::vector<int> roster_dirty_;
  v1::ClassAggregates last_aggregates_;
  bool progress_changed_ = false;
};

}  // namespace circuit::engine

#endif  // CIRCUIT_SERVER_ENGINE_CLASS_SESSION_H_
