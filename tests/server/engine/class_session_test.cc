#include "server/engine/class_session.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/class_commands.h"

namespace circuit::engine {
namespace {

using ::circuit::testing::AdjustTimeCommand;
using ::circuit::testing::CannedCueCommand;
using ::circuit::testing::CueCommand;
using ::circuit::testing::DecideCommand;
using ::circuit::testing::EndCommand;
using ::circuit::testing::NextCommand;
using ::circuit::testing::PauseCommand;
using ::circuit::testing::PreviousCommand;
using ::circuit::testing::ResumeCommand;
using ::circuit::testing::StartCommand;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// A small library with every adaptation path: a hip internal rotation
// exercise with a drill, regressions and progressions, an exercise with a
// drill that is not internal rotation, and one with nothing.
constexpr char kCatalog[] = R"text(
exercises {
  id: "bridge"
  name: "Glute bridge"
  pattern: MOVEMENT_PATTERN_HIP_EXTENSION
  reps { min_reps: 10 max_reps: 12 }
  cues: "Press through the heels."
  track_options {
    track: RECOVERY_TRACK_CESAREAN
    note: "zztracknotezz: roll to the side to get up."
  }
}
exercises {
  id: "thrust"
  name: "Hip thrust"
  pattern: MOVEMENT_PATTERN_HIP_EXTENSION
  reps { min_reps: 8 max_reps: 10 }
  regression_ids: "bridge"
  hip_pinch_drill_id: "hip-shift"
  parts { id: "full" name: "Full range" unit: PART_UNIT_REPS target: 8 }
  parts { id: "pulse" name: "Pulses" unit: PART_UNIT_REPS target: 8 }
  parts { id: "hold" name: "Hold" unit: PART_UNIT_SECONDS target: 8 }
}
exercises {
  id: "curtsy"
  name: "Curtsy step-down"
  pattern: MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION
  per_side: true
  reps { min_reps: 8 max_reps: 10 }
  cues: "Lower for three seconds."
  cues: "Keep the pelvis level."
  regression_ids: "curtsy-easy"
  progression_ids: "curtsy-hard"
  hip_pinch_drill_id: "hip-shift"
}
exercises {
  id: "curtsy-easy"
  name: "Low-step curtsy"
  pattern: MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION
  per_side: true
  reps { min_reps: 8 max_reps: 10 }
}
exercises {
  id: "curtsy-hard"
  name: "Unsupported curtsy"
  pattern: MOVEMENT_PATTERN_HIP_INTERNAL_ROTATION
  per_side: true
  reps { min_reps: 8 max_reps: 10 }
}
exercises {
  id: "hip-shift"
  name: "Hip-shift drill"
  pattern: MOVEMENT_PATTERN_MOBILITY
  per_side: true
}
)text";

// Block 0: bridge, 2 timed sets. Block 1: thrust, untimed, waits for the
// instructor. Block 2: curtsy per side, a 40 s guide timer, waits for the
// instructor, its own 6-8 target.
constexpr char kTestCircuit[] = R"text(
id: "test"
name: "Test"
blocks {
  id: "b-bridge"
  exercise_id: "bridge"
  sets: 2
  work_seconds: 30
  advance: ADVANCE_MODE_TIMER
  rest_between_sets_seconds: 10
  rest_after_seconds: 10
}
blocks {
  id: "b-thrust"
  exercise_id: "thrust"
  sets: 2
  work_seconds: 0
  advance: ADVANCE_MODE_INSTRUCTOR
  rest_after_seconds: 20
}
blocks {
  id: "b-curtsy"
  exercise_id: "curtsy"
  sets: 1
  reps { min_reps: 6 max_reps: 8 }
  work_seconds: 40
  advance: ADVANCE_MODE_INSTRUCTOR
  rest_between_sides_seconds: 5
}
)text";

constexpr char kNoIrCircuit[] = R"text(
id: "no-ir"
name: "No internal rotation"
blocks { id: "t" exercise_id: "thrust" sets: 1 work_seconds: 30 }
)text";

constexpr char kPlainCircuit[] = R"text(
id: "plain"
name: "Plain"
blocks { id: "b" exercise_id: "bridge" sets: 1 work_seconds: 30 }
)text";

const CircuitLibrary& TestLibrary() {
  static const CircuitLibrary* library = [] {
    auto loaded = CircuitLibrary::Load({{"exercises.textproto", kCatalog},
                                        {"test.textproto", kTestCircuit},
                                        {"no-ir.textproto", kNoIrCircuit},
                                        {"plain.textproto", kPlainCircuit}});
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new CircuitLibrary(std::move(*loaded));
  }();
  return *library;
}

const CircuitLibrary& EmbeddedLibrary() {
  static const CircuitLibrary* library = [] {
    auto loaded = CircuitLibrary::LoadEmbedded();
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new CircuitLibrary(std::move(*loaded));
  }();
  return *library;
}

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

v1::CompletionReport Completion(const std::string& id, int block, int set,
                                v1::Side side, int reps) {
  v1::CompletionReport r;
  r.set_report_id(id);
  r.set_block_index(block);
  r.set_set(set);
  r.set_side(side);
  r.set_reps(reps);
  return r;
}

v1::EffortReport Effort(const std::string& id, int block, v1::EffortFeel feel,
                        std::optional<int> cr10 = std::nullopt) {
  v1::EffortReport r;
  r.set_report_id(id);
  r.set_block_index(block);
  r.set_feel(feel);
  if (cr10.has_value()) r.set_cr10(*cr10);
  return r;
}

v1::SymptomReport Symptom(const std::string& id, int block, v1::Symptom symptom,
                          const std::string& other_text = "") {
  v1::SymptomReport r;
  r.set_report_id(id);
  r.set_block_index(block);
  r.set_symptom(symptom);
  r.set_other_text(other_text);
  return r;
}

internal::ReportInput Input(const std::string& p,
                            const v1::CompletionReport& report) {
  internal::ReportInput input;
  input.set_participant_id(p);
  *input.mutable_completion() = report;
  return input;
}
internal::ReportInput Input(const std::string& p,
                            const v1::EffortReport& report) {
  internal::ReportInput input;
  input.set_participant_id(p);
  *input.mutable_effort() = report;
  return input;
}
internal::ReportInput Input(const std::string& p,
                            const v1::SymptomReport& report) {
  internal::ReportInput input;
  input.set_participant_id(p);
  *input.mutable_symptom() = report;
  return input;
}

class ClassSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(TestLibrary(), "test"); }

  void Make(const CircuitLibrary& library, const std::string& circuit_id,
            SessionOptions options = {}) {
    const v1::Circuit* circuit = library.FindCircuit(circuit_id);
    ASSERT_NE(circuit, nullptr);
    v1::ClassInfo info;
    info.set_class_id("c1");
    info.set_join_code("ABC234");
    info.set_circuit_id(circuit->id());
    info.set_circuit_name(circuit->name());
    info.set_title(circuit->name());
    info.set_created_unix_ms(Ms(kT0));
    session_ =
        std::make_unique<ClassSession>(info, *circuit, &library, options);
    now_ = kT0;
  }

  void Join(const std::string& id, const std::string& name,
            bool show_name = true) {
    v1::CheckIn check_in;
    check_in.set_display_name(name);
    check_in.set_show_name_on_kiosk(show_name);
    ASSERT_TRUE(session_->Join(id, check_in, now_).ok());
  }

  int64_t Do(const v1::InstructorCommand& command) {
    absl::StatusOr<int64_t> seq = session_->Apply(command, now_);
    EXPECT_TRUE(seq.ok()) << seq.status() << " for " << command.DebugString();
    return seq.ok() ? *seq : -1;
  }

  absl::StatusCode Code(const v1::InstructorCommand& command) {
    return session_->Apply(command, now_).status().code();
  }

  // Moves the class to interval `index` with `next` commands.
  void GoTo(int index) {
    while (session_->State(now_).current().index() < index) Do(NextCommand());
    ASSERT_EQ(session_->State(now_).current().index(), index);
  }

  // Records a report through Record, after checking that CheckReport
  // predicts its outcome exactly and changes nothing.
  absl::StatusOr<ReportResult> Report(const internal::ReportInput& report) {
    const std::string before = Fingerprint();
    std::optional<ReportResult> duplicate;
    const absl::Status checked = session_->CheckReport(report, &duplicate);
    EXPECT_EQ(Fingerprint(), before) << "CheckReport changed the session";
    absl::StatusOr<ReportResult> result = session_->Record(report, now_);
    EXPECT_EQ(checked, result.status()) << report.DebugString();
    if (result.ok()) {
      EXPECT_EQ(duplicate.has_value(), result->duplicate);
      if (duplicate.has_value()) {
        EXPECT_EQ(duplicate->seq, result->seq);
      }
    } else {
      EXPECT_FALSE(duplicate.has_value());
      EXPECT_EQ(Fingerprint(), before) << "a refused report changed something";
    }
    return result;
  }
  absl::StatusOr<ReportResult> Report(const std::string& p,
                                      const v1::CompletionReport& report) {
    return Report(Input(p, report));
  }
  absl::StatusOr<ReportResult> Report(const std::string& p,
                                      const v1::EffortReport& report) {
    return Report(Input(p, report));
  }
  absl::StatusOr<ReportResult> Report(const std::string& p,
                                      const v1::SymptomReport& report) {
    return Report(Input(p, report));
  }

  ReportResult Complete(const std::string& p, const std::string& id, int block,
                        int set, v1::Side side, int reps) {
    auto result = Report(p, Completion(id, block, set, side, reps));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : ReportResult{};
  }

  std::vector<Event> Drain() { return session_->DrainEvents(); }

  std::vector<v1::Suggestion> Suggestions(const std::vector<Event>& events) {
    std::vector<v1::Suggestion> out;
    for (const Event& e : events) {
      if (e.event.has_suggestion()) out.push_back(e.event.suggestion());
    }
    return out;
  }
  std::vector<v1::Alert> Alerts(const std::vector<Event>& events) {
    std::vector<v1::Alert> out;
    for (const Event& e : events) {
      if (e.event.has_alert()) out.push_back(e.event.alert());
    }
    return out;
  }

  // Everything a rejected input must leave alone.
  std::string Fingerprint() {
    return absl::StrCat(session_->last_seq(), "|",
                        session_->Progress().SerializeAsString(), "|",
                        session_->InstructorSnapshot(now_).SerializeAsString());
  }

  std::unique_ptr<ClassSession> session_;
  absl::Time now_ = kT0;
};

// --- Plan --------------------------------------------------------------------

TEST(PlanIntervalsTest, KickbackTrioHasWorkPerSideAndRestsBetween) {
  const CircuitLibrary& library = EmbeddedLibrary();
  const v1::Circuit* circuit = library.FindCircuit("kickback-trio");
  ASSERT_NE(circuit, nullptr);
  std::vector<v1::Interval> plan = PlanIntervals(*circuit, library);
  // Per block: L, rest 15, R, rest 30, L, rest 15, R; rest 45 after blocks 0
  // and 1, none after the last.
  ASSERT_THAT(plan, SizeIs(23));
  int work = 0;
  int64_t total_ms = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].index(), static_cast<int>(i));
    total_ms += plan[i].duration_ms();
    if (plan[i].kind() == v1::INTERVAL_KIND_WORK) {
      ++work;
      EXPECT_EQ(plan[i].duration_ms(), 45000);
      EXPECT_EQ(plan[i].target_reps().min_reps(), 8);
      EXPECT_EQ(plan[i].target_reps().max_reps(), 10);
      EXPECT_FALSE(plan[i].waits_for_instructor());
    } else {
      EXPECT_FALSE(plan[i].has_target_reps());
    }
  }
  EXPECT_EQ(work, 12);
  EXPECT_EQ(total_ms, 810000);
  const std::vector<int64_t> first_block = {45000, 15000, 45000, 30000,
                                            45000, 15000, 45000, 45000};
  for (size_t i = 0; i < first_block.size(); ++i) {
    EXPECT_EQ(plan[i].duration_ms(), first_block[i]) << i;
    EXPECT_EQ(plan[i].block_index(), 0) << i;
    EXPECT_EQ(plan[i].block_id(), "minimus");
  }
  EXPECT_EQ(plan[0].side(), v1::SIDE_LEFT);
  EXPECT_EQ(plan[2].side(), v1::SIDE_RIGHT);
  EXPECT_EQ(plan[0].set(), 1);
  EXPECT_EQ(plan[4].set(), 2);
  EXPECT_EQ(plan[4].set_count(), 2);
  // The rest after a set belongs to it; the rest after the block too.
  EXPECT_EQ(plan[3].kind(), v1::INTERVAL_KIND_REST);
  EXPECT_EQ(plan[3].set(), 1);
  EXPECT_EQ(plan[7].set(), 2);
  EXPECT_EQ(plan[7].exercise_id(), "kickback-glute-minimus");
  EXPECT_EQ(plan[8].block_index(), 1);
  EXPECT_EQ(plan.back().kind(), v1::INTERVAL_KIND_WORK);
  EXPECT_EQ(plan.back().block_index(), 2);
  EXPECT_EQ(plan.back().side(), v1::SIDE_RIGHT);
}

TEST(PlanIntervalsTest, UntimedBlocksWaitAndZeroRestsAreLeftOut) {
  const CircuitLibrary& library = TestLibrary();
  std::vector<v1::Interval> plan =
      PlanIntervals(*library.FindCircuit("test"), library);
  // bridge: W R W R | thrust: W W R | curtsy: WL R WR
  ASSERT_THAT(plan, SizeIs(10));
  EXPECT_EQ(plan[0].side(), v1::SIDE_BOTH);
  EXPECT_EQ(plan[0].target_reps().min_reps(), 10);  // the exercise's range
  EXPECT_EQ(plan[4].kind(), v1::INTERVAL_KIND_WORK);
  EXPECT_EQ(plan[5].kind(), v1::INTERVAL_KIND_WORK);  // no rest between sets
  EXPECT_EQ(plan[4].duration_ms(), 0);
  EXPECT_TRUE(plan[4].waits_for_instructor());
  EXPECT_EQ(plan[6].kind(), v1::INTERVAL_KIND_REST);
  EXPECT_FALSE(plan[6].waits_for_instructor());
  EXPECT_EQ(plan[7].target_reps().min_reps(), 6);  // the block's own range
  EXPECT_EQ(plan[7].duration_ms(), 40000);
  EXPECT_EQ(plan[8].duration_ms(), 5000);
  EXPECT_EQ(plan[9].side(), v1::SIDE_RIGHT);
}

// --- Lifecycle and timer -----------------------------------------------------

TEST_F(ClassSessionTest, LobbyShowsTheFirstIntervalAsNext) {
  v1::ClassState state = session_->State(now_);
  EXPECT_EQ(state.phase(), v1::CLASS_PHASE_LOBBY);
  EXPECT_FALSE(state.has_current());
  EXPECT_EQ(state.next().index(), 0);
  EXPECT_EQ(state.interval_count(), 10);
  EXPECT_FALSE(state.timer().running());
  EXPECT_EQ(session_->info().phase(), v1::CLASS_PHASE_LOBBY);
  EXPECT_EQ(session_->last_seq(), 0);
}

TEST_F(ClassSessionTest, WholeKickbackTrioRunsToTheEndByTickAlone) {
  Make(EmbeddedLibrary(), "kickback-trio");
  Do(StartCommand());
  std::vector<int> visited = {session_->State(now_).current().index()};
  int state_events = 0;
  for (const Event& e : Drain()) state_events += e.event.has_state();
  while (session_->phase() != v1::CLASS_PHASE_ENDED &&
         now_ < kT0 + absl::Hours(1)) {
    now_ += absl::Milliseconds(100);
    session_->Tick(now_);
    for (const Event& e : Drain()) {
      ASSERT_TRUE(e.event.has_state());
      EXPECT_EQ(e.audience, Audience::kPublic);
      ++state_events;
      if (e.event.state().has_current()) {
        visited.push_back(e.event.state().current().index());
      }
    }
  }
  ASSERT_EQ(session_->phase(), v1::CLASS_PHASE_ENDED);
  ASSERT_THAT(visited, SizeIs(23));
  for (int i = 0; i < 23; ++i) EXPECT_EQ(visited[static_cast<size_t>(i)], i);
  EXPECT_EQ(state_events, 24);  // start, 22 advances, the end
  EXPECT_EQ(session_->info().started_unix_ms(), Ms(kT0));
  EXPECT_EQ(session_->info().ended_unix_ms(), Ms(kT0 + absl::Seconds(810)));
  EXPECT_EQ(session_->State(now_).ended_unix_ms(),
            Ms(kT0 + absl::Seconds(810)));
  EXPECT_FALSE(session_->State(now_).timer().running());
}

TEST_F(ClassSessionTest, LateTickCountsEachIntervalFromTheOldDeadline) {
  Make(EmbeddedLibrary(), "kickback-trio");
  Do(StartCommand());
  Drain();
  now_ = kT0 + absl::Seconds(50);
  session_->Tick(now_);
  v1::ClassState state = session_->State(now_);
  EXPECT_EQ(state.current().index(), 1);  // the 15 s rest after 45 s work
  EXPECT_EQ(state.timer().started_unix_ms(), Ms(kT0 + absl::Seconds(45)));
  EXPECT_EQ(state.timer().deadline_unix_ms(), Ms(kT0 + absl::Seconds(60)));
  EXPECT_EQ(state.timer().remaining_ms(), 10000);
  EXPECT_TRUE(state.timer().running());
  Drain();
  now_ = kT0 + absl::Seconds(5000);
  session_->Tick(now_);
  EXPECT_THAT(Drain(), SizeIs(22));  // 21 advances and the end
  EXPECT_EQ(session_->info().ended_unix_ms(), Ms(kT0 + absl::Seconds(810)));
}

TEST_F(ClassSessionTest, PauseFreezesTheTimerAndResumeSetsANewDeadline) {
  Do(StartCommand());
  now_ += absl::Seconds(10);
  Do(PauseCommand());
  v1::ClassState paused = session_->State(now_);
  EXPECT_EQ(paused.phase(), v1::CLASS_PHASE_PAUSED);
  EXPECT_EQ(paused.timer().remaining_ms(), 20000);
  EXPECT_EQ(paused.timer().deadline_unix_ms(), 0);
  EXPECT_FALSE(paused.timer().running());
  Drain();
  now_ += absl::Seconds(100);
  session_->Tick(now_);
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(session_->State(now_).timer().remaining_ms(), 20000);
  EXPECT_EQ(session_->State(now_).current().index(), 0);

  Do(ResumeCommand());
  v1::ClassState resumed = session_->State(now_);
  EXPECT_TRUE(resumed.timer().running());
  EXPECT_EQ(resumed.timer().deadline_unix_ms(), Ms(now_ + absl::Seconds(20)));
  EXPECT_EQ(resumed.timer().started_unix_ms(), Ms(kT0));
  session_->Tick(now_ + absl::Milliseconds(19999));
  EXPECT_EQ(session_->State(now_).current().index(), 0);
  session_->Tick(now_ + absl::Seconds(20));
  EXPECT_EQ(session_->State(now_).current().index(), 1);
}

TEST_F(ClassSessionTest, AdjustTimeMovesTheDeadlineAndKeepsOneSecond) {
  Do(StartCommand());
  Do(AdjustTimeCommand(10000));
  EXPECT_EQ(session_->State(now_).timer().deadline_unix_ms(),
            Ms(kT0 + absl::Seconds(40)));
  Do(AdjustTimeCommand(-600000));
  EXPECT_EQ(session_->State(now_).timer().remaining_ms(), 1000);
  Do(PauseCommand());
  Do(AdjustTimeCommand(5000));
  EXPECT_EQ(session_->State(now_).timer().remaining_ms(), 6000);
  Do(AdjustTimeCommand(-10000));
  EXPECT_EQ(session_->State(now_).timer().remaining_ms(), 1000);
}

TEST_F(ClassSessionTest, AdjustTimeRejectionsChangeNothing) {
  EXPECT_EQ(Code(AdjustTimeCommand(5000)),
            absl::StatusCode::kFailedPrecondition);
  Do(StartCommand());
  const std::string before = Fingerprint();
  EXPECT_EQ(Code(AdjustTimeCommand(0)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(AdjustTimeCommand(600001)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(AdjustTimeCommand(-600001)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fingerprint(), before);
  GoTo(4);  // untimed thrust
  EXPECT_EQ(Code(AdjustTimeCommand(5000)),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClassSessionTest, NextAndPreviousStartAFreshTimerNow) {
  EXPECT_EQ(Code(NextCommand()), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Code(PreviousCommand()), absl::StatusCode::kFailedPrecondition);
  Do(StartCommand());
  EXPECT_EQ(Code(PreviousCommand()), absl::StatusCode::kFailedPrecondition);
  now_ += absl::Seconds(7);
  Do(NextCommand());
  v1::ClassState state = session_->State(now_);
  EXPECT_EQ(state.current().index(), 1);
  EXPECT_EQ(state.timer().started_unix_ms(), Ms(now_));
  EXPECT_EQ(state.timer().deadline_unix_ms(), Ms(now_ + absl::Seconds(10)));
  EXPECT_EQ(state.next().index(), 2);
  now_ += absl::Seconds(3);
  const int64_t seq = Do(PreviousCommand());
  EXPECT_EQ(seq, session_->last_seq());
  state = session_->State(now_);
  EXPECT_EQ(state.current().index(), 0);
  EXPECT_EQ(state.timer().remaining_ms(), 30000);
}

TEST_F(ClassSessionTest, NextWhilePausedStaysPausedWithAFullTimer) {
  Do(StartCommand());
  Do(PauseCommand());
  Do(NextCommand());
  v1::ClassState state = session_->State(now_);
  EXPECT_EQ(state.phase(), v1::CLASS_PHASE_PAUSED);
  EXPECT_EQ(state.current().index(), 1);
  EXPECT_EQ(state.timer().remaining_ms(), 10000);
}

TEST_F(ClassSessionTest, NextPastTheLastIntervalEndsTheClass) {
  Do(StartCommand());
  GoTo(9);
  EXPECT_FALSE(session_->State(now_).has_next());
  Do(NextCommand());
  EXPECT_EQ(session_->phase(), v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(session_->info().phase(), v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(session_->info().ended_unix_ms(), Ms(now_));
  EXPECT_FALSE(session_->State(now_).has_current());
}

TEST_F(ClassSessionTest, CommandsOnlyApplyInTheirPhases) {
  EXPECT_EQ(Code(PauseCommand()), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Code(ResumeCommand()), absl::StatusCode::kFailedPrecondition);
  Do(StartCommand());
  EXPECT_EQ(Code(StartCommand()), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Code(ResumeCommand()), absl::StatusCode::kFailedPrecondition);
  Do(PauseCommand());
  EXPECT_EQ(Code(PauseCommand()), absl::StatusCode::kFailedPrecondition);
  Do(ResumeCommand());
  Do(EndCommand());
  const std::string before = Fingerprint();
  for (const v1::InstructorCommand& c :
       {StartCommand(), PauseCommand(), ResumeCommand(), NextCommand(),
        PreviousCommand(), AdjustTimeCommand(1000), EndCommand(),
        CueCommand("hello"), CannedCueCommand(0)}) {
    EXPECT_EQ(Code(c), absl::StatusCode::kFailedPrecondition)
        << c.DebugString();
  }
  EXPECT_EQ(Fingerprint(), before);
  EXPECT_EQ(Code(v1::InstructorCommand()), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClassSessionTest, EndFromTheLobbyEndsTheClass) {
  const int64_t seq = Do(EndCommand());
  EXPECT_EQ(seq, 1);
  EXPECT_EQ(session_->phase(), v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(session_->info().ended_unix_ms(), Ms(now_));
}

TEST_F(ClassSessionTest, EveryStateChangeEmitsOnePublicStateEvent) {
  Do(StartCommand());
  Do(PauseCommand());
  Do(ResumeCommand());
  Do(AdjustTimeCommand(1000));
  Do(NextCommand());
  Do(PreviousCommand());
  Do(EndCommand());
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(7));
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].event.seq(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(events[i].event.at_unix_ms(), Ms(now_));
    EXPECT_TRUE(events[i].event.has_state());
    EXPECT_EQ(events[i].audience, Audience::kPublic);
  }
  EXPECT_EQ(events.back().event.state().phase(), v1::CLASS_PHASE_ENDED);
}

TEST_F(ClassSessionTest, InstructorIntervalStaysWithItsTimerAtZero) {
  Do(StartCommand());
  GoTo(4);  // untimed thrust
  Drain();
  now_ += absl::Minutes(30);
  session_->Tick(now_);
  EXPECT_THAT(Drain(), IsEmpty());
  v1::ClassState state = session_->State(now_);
  EXPECT_EQ(state.current().index(), 4);
  EXPECT_EQ(state.timer().deadline_unix_ms(), 0);
  EXPECT_TRUE(state.timer().running());

  GoTo(7);  // curtsy left: a 40 s guide timer
  now_ += absl::Seconds(60);
  session_->Tick(now_);
  state = session_->State(now_);
  EXPECT_EQ(state.current().index(), 7);
  EXPECT_EQ(state.timer().remaining_ms(), 0);
  EXPECT_TRUE(state.timer().running());
  Do(NextCommand());  // the 5 s rest advances by itself
  now_ += absl::Seconds(5);
  session_->Tick(now_);
  EXPECT_EQ(session_->State(now_).current().index(), 9);
}

TEST_F(ClassSessionTest, TickDueSaysExactlyWhenTickChangesSomething) {
  struct Case {
    std::string name;
    std::function<void()> setup;
    absl::Duration later;  // when to tick, after the setup
  };
  auto drop = [this] {
    Join("p1", "Ana");
    ASSERT_TRUE(
        session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  };
  const std::vector<Case> cases = {
      {"lobby", [] {}, absl::Hours(1)},
      {"lobby with a participant", [this] { Join("p1", "Ana"); },
       absl::Hours(1)},
      {"before the deadline", [this] { Do(StartCommand()); },
       absl::Milliseconds(29999)},
      {"at the deadline", [this] { Do(StartCommand()); }, absl::Seconds(30)},
      {"long after", [this] { Do(StartCommand()); }, absl::Seconds(5000)},
      {"paused",
       [this] {
         Do(StartCommand());
         Do(PauseCommand());
       },
       absl::Hours(1)},
      {"untimed",
       [this] {
         Do(StartCommand());
         GoTo(4);
       },
       absl::Hours(1)},
      {"timed but waits for the instructor",
       [this] {
         Do(StartCommand());
         GoTo(7);
       },
       absl::Hours(1)},
      {"ended", [this] { Do(EndCommand()); }, absl::Hours(1)},
      {"hold not run out", drop, absl::Minutes(10) - absl::Milliseconds(1)},
      {"hold ran out", drop, absl::Minutes(10)},
      {"hold ran out after the end",
       [&] {
         drop();
         Do(EndCommand());
       },
       absl::Minutes(10)},
      {"deadline and hold",
       [&] {
         drop();
         Do(StartCommand());
       },
       absl::Minutes(10)},
      {"hold cancelled by a reconnection",
       [&] {
         drop();
         ASSERT_TRUE(
             session_->SetConnection("p1", v1::CONNECTION_STATE_CONNECTED, now_)
                 .ok());
       },
       absl::Hours(1)},
  };
  int due_count = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Make(TestLibrary(), "test");
    c.setup();
    Drain();
    const absl::Time at = now_ + c.later;
    const bool due = session_->TickDue(at);
    due_count += due;
    auto everything = [&] {
      std::string out = session_->InstructorSnapshot(at).SerializeAsString() +
                        session_->KioskSnapshot(at).SerializeAsString();
      if (auto p = session_->ParticipantSnapshot("p1", at); p.ok()) {
        out += p->SerializeAsString();
      }
      return out;
    };
    const std::string before = everything();
    session_->Tick(at);
    const std::vector<Event> events = Drain();
    EXPECT_EQ(due, !events.empty());
    if (!due) {
      EXPECT_EQ(everything(), before);
    }
    // One tick catches up on everything due.
    EXPECT_FALSE(session_->TickDue(at));
  }
  EXPECT_EQ(due_count, 5);  // so both answers were asked for
}

TEST_F(ClassSessionTest, CuesAreSentToEveryScreenAndKeptForSnapshots) {
  EXPECT_EQ(Code(CannedCueCommand(0)), absl::StatusCode::kFailedPrecondition);
  const int64_t seq = Do(CueCommand("  Breathe out as you lift  "));
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].event.seq(), seq);
  EXPECT_EQ(events[0].audience, Audience::kPublic);
  EXPECT_EQ(events[0].event.cue().text(), "Breathe out as you lift");
  EXPECT_EQ(events[0].event.cue().exercise_id(), "");

  Do(StartCommand());
  GoTo(7);  // curtsy
  Do(CannedCueCommand(1));
  v1::Cue canned = Drain().back().event.cue();
  EXPECT_EQ(canned.text(), "Keep the pelvis level.");
  EXPECT_EQ(canned.exercise_id(), "curtsy");
  EXPECT_EQ(canned.sent_unix_ms(), Ms(now_));

  const std::string before = Fingerprint();
  absl::Status status = session_->Apply(CannedCueCommand(2), now_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has 2 cues"));
  EXPECT_EQ(Code(CannedCueCommand(-1)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(CueCommand("   ")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(CueCommand(std::string(281, 'x'))),
            absl::StatusCode::kInvalidArgument);
  v1::InstructorCommand empty_cue;
  empty_cue.mutable_cue();
  EXPECT_EQ(Code(empty_cue), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fingerprint(), before);

  for (int i = 0; i < 12; ++i) Do(CueCommand(absl::StrCat("cue ", i)));
  v1::KioskSnapshot kiosk = session_->KioskSnapshot(now_);
  ASSERT_EQ(kiosk.recent_cues_size(), 10);
  EXPECT_EQ(kiosk.recent_cues(0).text(), "cue 2");
  EXPECT_EQ(kiosk.recent_cues(9).text(), "cue 11");
}

// --- Participants ------------------------------------------------------------

TEST_F(ClassSessionTest, JoinValidatesTheCheckInAndChangesNothingOnError) {
  const std::string before = Fingerprint();
  auto join = [&](const std::string& id, v1::CheckIn check_in) {
    return session_->Join(id, check_in, now_).code();
  };
  v1::CheckIn good;
  good.set_display_name("Ana");
  v1::CheckIn c = good;
  c.set_display_name("   ");
  EXPECT_EQ(join("p1", c), absl::StatusCode::kInvalidArgument);
  c.set_display_name(std::string(41, 'a'));
  EXPECT_EQ(join("p1", c), absl::StatusCode::kInvalidArgument);
  c = good;
  c.set_weeks_postpartum(521);
  EXPECT_EQ(join("p1", c), absl::StatusCode::kInvalidArgument);
  c.set_weeks_postpartum(-1);
  EXPECT_EQ(join("p1", c), absl::StatusCode::kInvalidArgument);
  c = good;
  c.set_equipment(std::string(65, 'e'));
  EXPECT_EQ(join("p1", c), absl::StatusCode::kInvalidArgument);
  c = good;
  c.set_track(static_cast<v1::RecoveryTrack>(42));
  EXPECT_EQ(join("p1", c), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(join("", good), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fingerprint(), before);

  // 40 letters is fine even when they take more bytes.
  c = good;
  std::string name;
  for (int i = 0; i < 40; ++i) name += "\xC3\xA9";  // é
  c.set_display_name("  " + name + " ");
  c.set_weeks_postpartum(520);
  ASSERT_EQ(join("p1", c), absl::StatusCode::kOk);
  EXPECT_EQ(join("p1", good), absl::StatusCode::kAlreadyExists);
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].audience, Audience::kInstructorAndParticipant);
  EXPECT_EQ(events[0].participant_id, "p1");
  EXPECT_EQ(events[0].event.participant_joined().check_in().display_name(),
            name);
  EXPECT_EQ(events[0].event.participant_joined().connection(),
            v1::CONNECTION_STATE_CONNECTED);
  EXPECT_EQ(session_->participant_count(), 1);
  EXPECT_EQ(session_->info().participant_count(), 1);
}

TEST_F(ClassSessionTest, JoinIsRefusedWhenFullOrEnded) {
  SessionOptions options;
  options.max_participants = 1;
  Make(TestLibrary(), "test", options);
  Join("p1", "Ana");
  v1::CheckIn check_in;
  check_in.set_display_name("Bo");
  EXPECT_EQ(session_->Join("p2", check_in, now_).code(),
            absl::StatusCode::kResourceExhausted);
  Make(TestLibrary(), "test");
  Do(EndCommand());
  EXPECT_EQ(session_->Join("p2", check_in, now_).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClassSessionTest, ConnectionIsKnownForEveryCheckedInParticipant) {
  EXPECT_EQ(session_->Connection("p1"), std::nullopt);
  Join("p1", "Ana");
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_CONNECTED);
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_DROPPED);
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_LEFT, now_).ok());
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_LEFT);
  EXPECT_EQ(session_->Connection("nope"), std::nullopt);
}

TEST_F(ClassSessionTest, DropsAfterTheEndRaiseNoAlert) {
  Make(TestLibrary(), "test", SessionOptions());
  Join("p1", "Ana");
  v1::InstructorCommand end = EndCommand();
  end.set_command_id("end");
  ASSERT_TRUE(session_->Apply(end, now_).ok());
  Drain();
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_TRUE(events[0].event.has_connection());
}

TEST_F(ClassSessionTest, ADropAfterTheEndIsALeaveWithNoSeatHeld) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  Do(EndCommand());
  Drain();
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].event.connection().connection(),
            v1::CONNECTION_STATE_LEFT);
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_LEFT);
  EXPECT_EQ(session_->participant_count(), 1);
  EXPECT_EQ(session_->InstructorSnapshot(now_).aggregates().dropped_count(), 0);
  // Nothing is held, so nothing runs out.
  EXPECT_FALSE(session_->TickDue(now_ + absl::Hours(1)));
  // Left is final, as for any leave.
  EXPECT_EQ(session_->SetConnection("p1", v1::CONNECTION_STATE_CONNECTED, now_)
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClassSessionTest, DropRaisesAnAlertAndHoldExpiryMakesTheSeatLeft) {
  SessionOptions options;
  options.hold = absl::Minutes(2);
  Make(TestLibrary(), "test", options);
  Join("p1", "Ana");
  Join("p2", "Bo");
  Drain();
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].event.connection().connection(),
            v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(events[0].audience, Audience::kInstructor);
  EXPECT_EQ(events[1].event.alert().kind(), v1::ALERT_KIND_DROPPED);
  EXPECT_EQ(events[1].event.alert().severity(), v1::ALERT_SEVERITY_INFO);
  EXPECT_EQ(events[1].event.alert().alert_id(), "a1");
  EXPECT_EQ(events[1].audience, Audience::kInstructor);
  EXPECT_EQ(session_->participant_count(), 2);  // dropped still counts
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_DROPPED);

  // p2 drops and comes back: the hold is cancelled.
  ASSERT_TRUE(
      session_->SetConnection("p2", v1::CONNECTION_STATE_DROPPED, now_).ok());
  ASSERT_TRUE(
      session_->SetConnection("p2", v1::CONNECTION_STATE_CONNECTED, now_).ok());
  Drain();

  session_->Tick(now_ + absl::Seconds(119));
  EXPECT_THAT(Drain(), IsEmpty());
  session_->Tick(now_ + absl::Seconds(120));
  events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].event.connection().participant_id(), "p1");
  EXPECT_EQ(events[0].event.connection().connection(),
            v1::CONNECTION_STATE_LEFT);
  EXPECT_EQ(session_->participant_count(), 1);
  EXPECT_EQ(session_->info().participant_count(), 1);
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_LEFT);
  session_->Tick(now_ + absl::Hours(1));
  EXPECT_THAT(Drain(), IsEmpty());
}

TEST_F(ClassSessionTest, ConnectionChangesAreCheckedAndLeftIsFinal) {
  Join("p1", "Ana");
  Drain();
  EXPECT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_CONNECTED, now_).ok());
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(
      session_->SetConnection("p9", v1::CONNECTION_STATE_DROPPED, now_).code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(
      session_->SetConnection("p1", v1::CONNECTION_STATE_UNSPECIFIED, now_)
          .code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_LEFT, now_).ok());
  EXPECT_EQ(session_->SetConnection("p1", v1::CONNECTION_STATE_CONNECTED, now_)
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

// --- Restart -----------------------------------------------------------------

constexpr char kRestartCueText[] =
    "The server restarted. The class is paused here; it goes on when the "
    "instructor resumes.";

TEST_F(ClassSessionTest, RestartPausesAtTheIntervalWithItsFullTimeAndSaysSo) {
  SessionOptions options;
  options.hold = absl::Minutes(2);
  Make(TestLibrary(), "test", options);
  Join("p1", "Ana");
  Join("p2", "Bo");
  Join("p3", "Cy");
  Do(StartCommand());
  now_ += absl::Seconds(12);
  ASSERT_TRUE(
      session_->SetConnection("p2", v1::CONNECTION_STATE_DROPPED, now_).ok());
  ASSERT_TRUE(
      session_->SetConnection("p3", v1::CONNECTION_STATE_LEFT, now_).ok());
  const absl::Time p2_dropped = now_;
  Drain();

  now_ += absl::Seconds(40);  // the server was away; the deadline passed
  session_->Restart(now_);
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(3));
  const v1::ClassState& state = events[0].event.state();
  EXPECT_EQ(events[0].audience, Audience::kPublic);
  EXPECT_EQ(state.phase(), v1::CLASS_PHASE_PAUSED);
  EXPECT_EQ(state.current().index(), 0);
  EXPECT_EQ(state.timer().remaining_ms(), 30000);
  EXPECT_FALSE(state.timer().running());
  EXPECT_EQ(events[1].audience, Audience::kPublic);
  EXPECT_EQ(events[1].event.cue().text(), kRestartCueText);
  EXPECT_EQ(events[2].event.connection().participant_id(), "p1");
  EXPECT_EQ(events[2].event.connection().connection(),
            v1::CONNECTION_STATE_DROPPED);
  EXPECT_THAT(Alerts(events), IsEmpty());
  EXPECT_EQ(session_->info().phase(), v1::CLASS_PHASE_PAUSED);
  EXPECT_EQ(session_->KioskSnapshot(now_).recent_cues(0).text(),
            kRestartCueText);
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(session_->Connection("p2"), v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(session_->Connection("p3"), v1::CONNECTION_STATE_LEFT);
  EXPECT_EQ(session_->participant_count(), 2);

  // The paused class does not move by itself; p2's hold runs from its drop,
  // p1's from the restart.
  session_->Tick(p2_dropped + absl::Minutes(2));
  EXPECT_EQ(session_->State(now_).current().index(), 0);
  EXPECT_EQ(session_->Connection("p2"), v1::CONNECTION_STATE_LEFT);
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_DROPPED);
  EXPECT_FALSE(
      session_->TickDue(now_ + absl::Minutes(2) - absl::Milliseconds(1)));
  EXPECT_TRUE(session_->TickDue(now_ + absl::Minutes(2)));

  // The instructor resumes; the interval has its whole 30 s again.
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_CONNECTED, now_).ok());
  Do(ResumeCommand());
  EXPECT_EQ(session_->State(now_).timer().deadline_unix_ms(),
            Ms(now_ + absl::Seconds(30)));
}

TEST_F(ClassSessionTest, RestartOfAPausedClassGivesTheIntervalItsFullTime) {
  Do(StartCommand());
  now_ += absl::Seconds(20);
  Do(PauseCommand());
  EXPECT_EQ(session_->State(now_).timer().remaining_ms(), 10000);
  session_->Restart(now_);
  EXPECT_EQ(session_->phase(), v1::CLASS_PHASE_PAUSED);
  EXPECT_EQ(session_->State(now_).timer().remaining_ms(), 30000);
  EXPECT_THAT(Drain(), SizeIs(4));  // start, pause, state, cue
}

TEST_F(ClassSessionTest, RestartInTheLobbyOnlyDropsTheConnected) {
  Join("p1", "Ana");
  Drain();
  const v1::ClassState before = session_->State(now_);
  session_->Restart(now_);
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].event.connection().connection(),
            v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(session_->State(now_).SerializeAsString(),
            before.SerializeAsString());
  EXPECT_THAT(session_->KioskSnapshot(now_).recent_cues(), IsEmpty());
}

TEST_F(ClassSessionTest, RestartOfAnEndedClassChangesNothing) {
  Join("p1", "Ana");
  Do(StartCommand());
  Do(EndCommand());
  Drain();
  const std::string before = Fingerprint();
  session_->Restart(now_ + absl::Minutes(1));
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(Fingerprint(), before);
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_CONNECTED);
}

// --- Reports: validation -----------------------------------------------------

TEST_F(ClassSessionTest, BadCompletionsGetTheirStatusAndChangeNothing) {
  Join("p1", "Ana");
  auto code = [&](const v1::CompletionReport& r) {
    return Report("p1", r).status();
  };
  // In the lobby nothing has been reached.
  EXPECT_EQ(code(Completion("r", 0, 1, v1::SIDE_BOTH, 10)).code(),
            absl::StatusCode::kFailedPrecondition);
  Do(StartCommand());
  session_->TakeRosterUpdate();
  session_->TakeProgressChanged();
  const std::string before = Fingerprint();

  absl::Status s = code(Completion("r", 7, 1, v1::SIDE_BOTH, 10));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "block 7 does not exist; the circuit has 3 blocks");
  s = code(Completion("r", 0, 3, v1::SIDE_BOTH, 10));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("set 3 does not exist"));
  EXPECT_EQ(code(Completion("r", 0, 0, v1::SIDE_BOTH, 10)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Completion("r", 0, 1, v1::SIDE_LEFT, 10)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Completion("r", 2, 1, v1::SIDE_BOTH, 10)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Completion("r", 0, 1, static_cast<v1::Side>(9), 10)).code(),
            absl::StatusCode::kInvalidArgument);
  s = code(Completion("r", 0, 1, v1::SIDE_BOTH, 150));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "reps must be 0 to 100, got 150");
  EXPECT_EQ(code(Completion("r", 0, 1, v1::SIDE_BOTH, -1)).code(),
            absl::StatusCode::kInvalidArgument);
  v1::CompletionReport loaded = Completion("r", 0, 1, v1::SIDE_BOTH, 10);
  loaded.mutable_load()->set_band(std::string(33, 'b'));
  EXPECT_EQ(code(loaded).code(), absl::StatusCode::kInvalidArgument);
  loaded.mutable_load()->set_band("heavy");
  loaded.mutable_load()->set_kilograms(500.5);
  EXPECT_EQ(code(loaded).code(), absl::StatusCode::kInvalidArgument);
  loaded.mutable_load()->set_kilograms(-1);
  EXPECT_EQ(code(loaded).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Completion("", 0, 1, v1::SIDE_BOTH, 10)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      code(Completion(std::string(65, 'x'), 0, 1, v1::SIDE_BOTH, 10)).code(),
      absl::StatusCode::kInvalidArgument);
  // A block not reached yet.
  s = code(Completion("r", 1, 1, v1::SIDE_BOTH, 10));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("not been reached"));
  EXPECT_EQ(
      Report("p9", Completion("r", 0, 1, v1::SIDE_BOTH, 10)).status().code(),
      absl::StatusCode::kNotFound);

  EXPECT_EQ(Fingerprint(), before);
  EXPECT_THAT(Drain(), SizeIs(2));  // only the join and the start
  EXPECT_FALSE(session_->TakeRosterUpdate().has_value());
  EXPECT_FALSE(session_->TakeProgressChanged());

  // The same report is fine once its block is reached; an earlier block
  // stays reportable; after the end nothing is.
  GoTo(4);
  EXPECT_TRUE(code(Completion("r1", 1, 2, v1::SIDE_BOTH, 10)).ok());
  EXPECT_TRUE(code(Completion("r2", 0, 1, v1::SIDE_BOTH, 10)).ok());
  Do(EndCommand());
  s = code(Completion("r3", 0, 2, v1::SIDE_BOTH, 10));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "the class has ended");
}

TEST_F(ClassSessionTest, BadEffortAndSymptomReportsChangeNothing) {
  Join("p1", "Ana");
  auto effort = [&](const v1::EffortReport& r) {
    return Report("p1", r).status().code();
  };
  auto symptom = [&](const v1::SymptomReport& r) {
    return Report("p1", r).status().code();
  };
  const std::string before = Fingerprint();
  // Effort needs something done first; symptoms are welcome in the lobby.
  EXPECT_EQ(effort(Effort("e", 0, v1::EFFORT_FEEL_JUST_RIGHT)),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fingerprint(), before);
  EXPECT_EQ(symptom(Symptom("s0", 0, v1::SYMPTOM_LOW_BACK_PAIN)),
            absl::StatusCode::kOk);
  Do(StartCommand());
  const std::string started = Fingerprint();
  EXPECT_EQ(effort(Effort("e", 0, v1::EFFORT_FEEL_UNSPECIFIED, 11)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(effort(Effort("e", 0, v1::EFFORT_FEEL_UNSPECIFIED, -1)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(effort(Effort("e", 0, static_cast<v1::EffortFeel>(9))),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(effort(Effort("e", 0, v1::EFFORT_FEEL_UNSPECIFIED)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(effort(Effort("e", 3, v1::EFFORT_FEEL_JUST_RIGHT)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(effort(Effort("e", -1, v1::EFFORT_FEEL_JUST_RIGHT)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(symptom(Symptom("s", 0, v1::SYMPTOM_UNSPECIFIED)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(symptom(Symptom("s", 0, static_cast<v1::Symptom>(99))),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(symptom(Symptom("s", 0, v1::SYMPTOM_OTHER)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(symptom(Symptom("s", 0, v1::SYMPTOM_OTHER, std::string(141, 'x'))),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(symptom(Symptom("s", 5, v1::SYMPTOM_LEAKING)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Report("p9", Effort("e", 0, v1::EFFORT_FEEL_TOO_EASY)).status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(Fingerprint(), started);
  Do(EndCommand());
  EXPECT_EQ(effort(Effort("e", 0, v1::EFFORT_FEEL_JUST_RIGHT)),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(symptom(Symptom("s", 0, v1::SYMPTOM_LEAKING)),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClassSessionTest, AnInputWithoutAKindIsNotAReport) {
  Join("p1", "Ana");
  Do(StartCommand());
  internal::ReportInput empty;
  empty.set_participant_id("p1");
  absl::Status s = Report(empty).status();  // CheckReport agrees (Report)
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a report"));
  empty.set_participant_id("p9");
  EXPECT_THAT(Report(empty).status().message(), HasSubstr("not a report"));
}

TEST_F(ClassSessionTest, CheckReportGivesTheFirstResultOfAKnownIdOnly) {
  Join("p1", "Ana");
  Do(StartCommand());
  const internal::ReportInput report =
      Input("p1", Completion("r1", 0, 1, v1::SIDE_BOTH, 10));
  std::optional<ReportResult> duplicate;
  ASSERT_TRUE(session_->CheckReport(report, &duplicate).ok());
  EXPECT_FALSE(duplicate.has_value());
  EXPECT_TRUE(session_->CheckReport(report, nullptr).ok());
  EXPECT_EQ(session_->Progress().total_reps(), 0);  // checking records nothing
  const ReportResult first = *session_->Record(report, now_);
  ASSERT_TRUE(session_->CheckReport(report, &duplicate).ok());
  ASSERT_TRUE(duplicate.has_value());
  EXPECT_TRUE(duplicate->duplicate);
  EXPECT_EQ(duplicate->seq, first.seq);
}

TEST_F(ClassSessionTest, TooManyReportsAreRefused) {
  SessionOptions options;
  options.max_reports_per_participant = 2;
  Make(TestLibrary(), "test", options);
  Join("p1", "Ana");
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  Complete("p1", "r2", 0, 2, v1::SIDE_BOTH, 10);
  const std::string before = Fingerprint();
  EXPECT_EQ(
      Report("p1", Effort("r3", 0, v1::EFFORT_FEEL_TOO_EASY)).status().code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Fingerprint(), before);
  // A retry of an accepted one is still acknowledged.
  EXPECT_TRUE(Complete("p1", "r2", 0, 2, v1::SIDE_BOTH, 10).duplicate);
}

// --- Exactly-once ------------------------------------------------------------

TEST_F(ClassSessionTest, DuplicateReportIsAckedWithItsSeqAndCountedOnce) {
  Join("p1", "Ana");
  Do(StartCommand());
  Drain();
  session_->TakeRosterUpdate();
  session_->TakeProgressChanged();
  ReportResult first = Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 9);
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(first.seq, session_->last_seq());
  Drain();
  session_->TakeRosterUpdate();
  session_->TakeProgressChanged();
  const std::string before = Fingerprint();

  ReportResult again = Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 9);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, first.seq);
  // Even when the retry carries different content, the first one stands.
  EXPECT_TRUE(Complete("p1", "r1", 0, 2, v1::SIDE_BOTH, 50).duplicate);
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(Fingerprint(), before);
  EXPECT_FALSE(session_->TakeRosterUpdate().has_value());
  EXPECT_FALSE(session_->TakeProgressChanged());
  EXPECT_EQ(session_->Progress().total_reps(), 9);
}

TEST_F(ClassSessionTest, CompletionUnderAnotherIdCorrectsTheSet) {
  Join("p1", "Ana");
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 9);
  ReportResult corrected = Complete("p1", "r2", 0, 1, v1::SIDE_BOTH, 12);
  EXPECT_FALSE(corrected.duplicate);
  v1::InstructorSnapshot snapshot = session_->InstructorSnapshot(now_);
  const v1::ParticipantProgress& progress = snapshot.roster(0).progress();
  ASSERT_EQ(progress.blocks_size(), 1);
  EXPECT_EQ(progress.blocks(0).sets_done(), 1);
  EXPECT_EQ(progress.blocks(0).reps(), 12);
  EXPECT_EQ(progress.total_reps(), 12);
  EXPECT_EQ(session_->Progress().total_reps(), 12);
}

TEST_F(ClassSessionTest, RetryAfterTheClassEndedIsStillAcknowledged) {
  Join("p1", "Ana");
  Do(StartCommand());
  ReportResult first = Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  auto effort = Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_JUST_RIGHT));
  ASSERT_TRUE(effort.ok());
  Do(EndCommand());
  Drain();
  ReportResult again = Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, first.seq);
  auto effort_again = Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_JUST_RIGHT));
  ASSERT_TRUE(effort_again.ok());
  EXPECT_TRUE(effort_again->duplicate);
  EXPECT_EQ(effort_again->seq, effort->seq);
  EXPECT_THAT(Drain(), IsEmpty());
}

// --- Adaptation rules
// ----------------------------------------------------------

TEST_F(ClassSessionTest, HipPinchSuggestsTheDrillOfTheNextInternalRotation) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  Drain();
  auto result = Report("p1", Symptom("s1", 0, v1::SYMPTOM_HIP_PINCH));
  ASSERT_TRUE(result.ok());
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(3));  // report, alert, suggestion
  EXPECT_EQ(events[0].event.seq(), result->seq);
  EXPECT_TRUE(events[0].event.report().has_symptom());
  // The report is the reporter's; the instructor gets the alert, and the
  // report itself in the roster changes.
  EXPECT_EQ(events[0].audience, Audience::kParticipant);
  EXPECT_EQ(events[0].participant_id, "p1");
  const v1::Alert& alert = events[1].event.alert();
  EXPECT_EQ(events[1].audience, Audience::kInstructor);
  EXPECT_EQ(alert.kind(), v1::ALERT_KIND_SYMPTOM);
  EXPECT_EQ(alert.severity(), v1::ALERT_SEVERITY_WARNING);
  EXPECT_EQ(alert.symptom(), v1::SYMPTOM_HIP_PINCH);
  EXPECT_EQ(alert.block_index(), 0);
  EXPECT_THAT(alert.text(), HasSubstr("Ana"));
  EXPECT_THAT(alert.text(), HasSubstr("pinching at the front of the hip"));
  const v1::Suggestion& suggestion = events[2].event.suggestion();
  EXPECT_EQ(events[2].audience, Audience::kInstructorAndParticipant);
  EXPECT_EQ(events[2].participant_id, "p1");
  EXPECT_EQ(suggestion.suggestion_id(), "s1");
  EXPECT_EQ(suggestion.kind(), v1::SUGGESTION_KIND_DRILL);
  EXPECT_EQ(suggestion.exercise_id(), "curtsy");
  EXPECT_EQ(suggestion.suggested_exercise_id(), "hip-shift");
  EXPECT_EQ(suggestion.suggested_exercise_name(), "Hip-shift drill");
  EXPECT_EQ(suggestion.decision(), v1::SUGGESTION_DECISION_UNSPECIFIED);
  EXPECT_FALSE(suggestion.reason().empty());
}

TEST_F(ClassSessionTest, HipPinchFallsBackToTheDrillOfTheReportedBlock) {
  Make(TestLibrary(), "no-ir");
  Join("p1", "Ana");
  Do(StartCommand());
  Drain();
  ASSERT_TRUE(Report("p1", Symptom("s1", 0, v1::SYMPTOM_HIP_PINCH)).ok());
  std::vector<v1::Suggestion> suggestions = Suggestions(Drain());
  ASSERT_THAT(suggestions, SizeIs(1));
  EXPECT_EQ(suggestions[0].exercise_id(), "thrust");
  EXPECT_EQ(suggestions[0].suggested_exercise_id(), "hip-shift");
}

TEST_F(ClassSessionTest, HipPinchWithNoDrillAnywhereOnlyAlerts) {
  Make(TestLibrary(), "plain");
  Join("p1", "Ana");
  Do(StartCommand());
  Drain();
  ASSERT_TRUE(Report("p1", Symptom("s1", 0, v1::SYMPTOM_HIP_PINCH)).ok());
  std::vector<Event> events = Drain();
  EXPECT_THAT(Suggestions(events), IsEmpty());
  EXPECT_THAT(Alerts(events), SizeIs(1));
}

TEST_F(ClassSessionTest, TooHardSuggestsTheRegressionAndTwiceInARowAlerts) {
  Join("p1", "Ana");
  Do(StartCommand());
  GoTo(4);  // thrust, whose regression is the bridge
  Drain();
  ASSERT_TRUE(Report("p1", Effort("e1", 1, v1::EFFORT_FEEL_TOO_HARD)).ok());
  std::vector<Event> events = Drain();
  std::vector<v1::Suggestion> suggestions = Suggestions(events);
  ASSERT_THAT(suggestions, SizeIs(1));
  EXPECT_EQ(suggestions[0].kind(), v1::SUGGESTION_KIND_REGRESSION);
  EXPECT_EQ(suggestions[0].exercise_id(), "thrust");
  EXPECT_EQ(suggestions[0].suggested_exercise_id(), "bridge");
  EXPECT_THAT(Alerts(events), IsEmpty());

  // A CR-10 of 9 counts as too hard: the second in a row raises the alert
  // (the same regression is not suggested again while undecided).
  ASSERT_TRUE(
      Report("p1", Effort("e2", 1, v1::EFFORT_FEEL_UNSPECIFIED, 9)).ok());
  events = Drain();
  EXPECT_THAT(Suggestions(events), IsEmpty());
  std::vector<v1::Alert> alerts = Alerts(events);
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].kind(), v1::ALERT_KIND_REPEATED_TOO_HARD);
  EXPECT_EQ(alerts[0].severity(), v1::ALERT_SEVERITY_WARNING);
  EXPECT_EQ(alerts[0].participant_id(), "p1");
  EXPECT_THAT(alerts[0].text(), HasSubstr("Ana"));

  // A rating in between breaks the run.
  ASSERT_TRUE(Report("p1", Effort("e3", 1, v1::EFFORT_FEEL_JUST_RIGHT)).ok());
  ASSERT_TRUE(Report("p1", Effort("e4", 1, v1::EFFORT_FEEL_TOO_HARD)).ok());
  EXPECT_THAT(Alerts(Drain()), IsEmpty());
}

TEST_F(ClassSessionTest, TooHardWithoutARegressionSuggestsNothing) {
  Join("p1", "Ana");
  Do(StartCommand());
  Drain();
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_TOO_HARD)).ok());
  EXPECT_THAT(Suggestions(Drain()), IsEmpty());
}

TEST_F(ClassSessionTest, RepsUnderTheRangeTwiceSuggestsTheRegression) {
  Join("p1", "Ana");
  Do(StartCommand());
  GoTo(5);  // thrust set 2
  Drain();
  Complete("p1", "r1", 1, 1, v1::SIDE_BOTH, 5);
  EXPECT_THAT(Suggestions(Drain()), IsEmpty());
  Complete("p1", "r2", 1, 2, v1::SIDE_BOTH, 7);
  std::vector<v1::Suggestion> suggestions = Suggestions(Drain());
  ASSERT_THAT(suggestions, SizeIs(1));
  EXPECT_EQ(suggestions[0].kind(), v1::SUGGESTION_KIND_REGRESSION);
  EXPECT_EQ(suggestions[0].suggested_exercise_id(), "bridge");
  EXPECT_THAT(suggestions[0].reason(), HasSubstr("under"));
  v1::InstructorSnapshot snapshot = session_->InstructorSnapshot(now_);
  EXPECT_EQ(snapshot.roster(0).progress().blocks(0).sets_under_range(), 2);
}

TEST_F(ClassSessionTest, TooEasyWithEveryRepDoneSuggestsTheProgression) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Join("p3", "Cy");
  Do(StartCommand());
  GoTo(9);  // curtsy, target 6 to 8
  Complete("p1", "a", 2, 1, v1::SIDE_LEFT, 8);
  Complete("p1", "b", 2, 1, v1::SIDE_RIGHT, 9);
  Complete("p2", "a", 2, 1, v1::SIDE_LEFT, 8);
  Complete("p2", "b", 2, 1, v1::SIDE_RIGHT, 7);  // one short of the top
  Drain();
  for (const char* p : {"p1", "p2", "p3"}) {
    ASSERT_TRUE(Report(p, Effort("e", 2, v1::EFFORT_FEEL_UNSPECIFIED, 2)).ok());
  }
  std::vector<v1::Suggestion> suggestions = Suggestions(Drain());
  ASSERT_THAT(suggestions, SizeIs(1));
  EXPECT_EQ(suggestions[0].participant_id(), "p1");
  EXPECT_EQ(suggestions[0].kind(), v1::SUGGESTION_KIND_PROGRESSION);
  EXPECT_EQ(suggestions[0].exercise_id(), "curtsy");
  EXPECT_EQ(suggestions[0].suggested_exercise_id(), "curtsy-hard");
  EXPECT_EQ(suggestions[0].suggested_exercise_name(), "Unsupported curtsy");
}

TEST_F(ClassSessionTest, LeakingHeavinessAndDomingRaisePriorityAndLowerLoad) {
  Join("p1", "Ana");
  Do(StartCommand());
  Drain();
  int n = 0;
  for (v1::Symptom symptom : {v1::SYMPTOM_LEAKING, v1::SYMPTOM_PELVIC_HEAVINESS,
                              v1::SYMPTOM_ABDOMINAL_DOMING}) {
    ASSERT_TRUE(Report("p1", Symptom(absl::StrCat("s", ++n), 0, symptom)).ok());
    std::vector<Event> events = Drain();
    std::vector<v1::Alert> alerts = Alerts(events);
    ASSERT_THAT(alerts, SizeIs(1));
    EXPECT_EQ(alerts[0].severity(), v1::ALERT_SEVERITY_PRIORITY);
    EXPECT_EQ(alerts[0].symptom(), symptom);
    EXPECT_THAT(alerts[0].text(), HasSubstr("Ana"));
    std::vector<v1::Suggestion> suggestions = Suggestions(events);
    if (n == 1) {
      ASSERT_THAT(suggestions, SizeIs(1));
      EXPECT_EQ(suggestions[0].kind(), v1::SUGGESTION_KIND_LOWER_LOAD);
      EXPECT_EQ(suggestions[0].suggested_exercise_id(), "");
      EXPECT_EQ(suggestions[0].exercise_id(), "bridge");
      EXPECT_THAT(suggestions[0].reason(), HasSubstr("coach"));
      Do(DecideCommand(suggestions[0].suggestion_id(),
                       v1::SUGGESTION_DECISION_DISMISSED));
      Drain();
    } else {
      // Once decided, the same suggestion may come again.
      EXPECT_THAT(suggestions, SizeIs(n == 2 ? 1 : 0));
    }
  }
  EXPECT_THAT(
      session_->InstructorSnapshot(now_).roster(0).progress().symptoms(),
      ElementsAre(v1::SYMPTOM_LEAKING, v1::SYMPTOM_PELVIC_HEAVINESS,
                  v1::SYMPTOM_ABDOMINAL_DOMING));
}

TEST_F(ClassSessionTest, OtherSymptomsOnlyWarnTheInstructor) {
  Join("p1", "Ana");
  Do(StartCommand());
  Drain();
  ASSERT_TRUE(Report("p1", Symptom("s1", 0, v1::SYMPTOM_LOW_BACK_PAIN)).ok());
  ASSERT_TRUE(
      Report("p1", Symptom("s2", 0, v1::SYMPTOM_OTHER, "sore wrist")).ok());
  std::vector<Event> events = Drain();
  EXPECT_THAT(Suggestions(events), IsEmpty());
  std::vector<v1::Alert> alerts = Alerts(events);
  ASSERT_THAT(alerts, SizeIs(2));
  EXPECT_EQ(alerts[0].severity(), v1::ALERT_SEVERITY_WARNING);
  EXPECT_THAT(alerts[0].text(), HasSubstr("low back pain"));
  EXPECT_THAT(alerts[1].text(), HasSubstr("sore wrist"));
  EXPECT_EQ(alerts[1].alert_id(), "a2");
}

TEST_F(ClassSessionTest, DecidingASuggestionSendsItAgainToThatParticipant) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  ASSERT_TRUE(Report("p2", Symptom("s1", 0, v1::SYMPTOM_LEAKING)).ok());
  Drain();
  const std::string before = Fingerprint();
  EXPECT_EQ(Code(DecideCommand("s9", v1::SUGGESTION_DECISION_ACCEPTED)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(DecideCommand("x1", v1::SUGGESTION_DECISION_ACCEPTED)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(DecideCommand("s01", v1::SUGGESTION_DECISION_ACCEPTED)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(DecideCommand("s1", v1::SUGGESTION_DECISION_UNSPECIFIED)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fingerprint(), before);

  const int64_t seq = Do(DecideCommand("s1", v1::SUGGESTION_DECISION_ACCEPTED));
  std::vector<Event> events = Drain();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].event.seq(), seq);
  EXPECT_EQ(events[0].audience, Audience::kInstructorAndParticipant);
  EXPECT_EQ(events[0].participant_id, "p2");
  EXPECT_EQ(events[0].event.suggestion().decision(),
            v1::SUGGESTION_DECISION_ACCEPTED);
  auto snapshot = session_->ParticipantSnapshot("p2", now_);
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->suggestions_size(), 1);
  EXPECT_EQ(snapshot->suggestions(0).decision(),
            v1::SUGGESTION_DECISION_ACCEPTED);
  EXPECT_EQ(session_->ParticipantSnapshot("p1", now_)->suggestions_size(), 0);
  EXPECT_EQ(session_->InstructorSnapshot(now_).suggestions(0).decision(),
            v1::SUGGESTION_DECISION_ACCEPTED);
}

// --- History -----------------------------------------------------------------

TEST_F(ClassSessionTest, SummaryHoldsEverySetEffortSymptomSuggestionAndAlert) {
  Join("p1", "Ana");
  Join("p2", "Bo", /*show_name=*/false);
  Do(StartCommand());
  GoTo(9);  // curtsy right
  Complete("p1", "c", 2, 1, v1::SIDE_RIGHT, 7);
  Complete("p1", "b", 0, 2, v1::SIDE_BOTH, 8);
  Complete("p1", "a", 0, 1, v1::SIDE_BOTH, 12);
  Complete("p1", "d", 2, 1, v1::SIDE_LEFT, 5);
  Complete("p1", "a2", 0, 1, v1::SIDE_BOTH, 11);  // corrects set 1
  const absl::Time effort_at = now_;
  ASSERT_TRUE(
      Report("p1", Effort("e1", 2, v1::EFFORT_FEEL_JUST_RIGHT, 6)).ok());
  now_ += absl::Seconds(1);
  ASSERT_TRUE(Report("p1", Effort("e2", 2, v1::EFFORT_FEEL_TOO_HARD)).ok());
  ASSERT_TRUE(
      Report("p1", Symptom("s1", 2, v1::SYMPTOM_OTHER, "  sore wrist ")).ok());
  Do(DecideCommand("s1", v1::SUGGESTION_DECISION_ACCEPTED));
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());

  const v1::ClassSummary summary = session_->Summary(now_ + absl::Seconds(1));
  EXPECT_EQ(summary.class_info().class_id(), "c1");
  EXPECT_EQ(summary.class_info().phase(), v1::CLASS_PHASE_RUNNING);
  EXPECT_EQ(summary.generated_unix_ms(), Ms(now_ + absl::Seconds(1)));
  EXPECT_EQ(summary.total_reps(), 31);
  EXPECT_EQ(summary.aggregates().dropped_count(), 1);
  ASSERT_EQ(summary.participants_size(), 2);

  const v1::ParticipantSummary& ana = summary.participants(0);
  EXPECT_EQ(ana.participant_id(), "p1");
  EXPECT_EQ(ana.check_in().display_name(), "Ana");
  EXPECT_EQ(ana.connection(), v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(ana.total_reps(), 31);
  EXPECT_FALSE(ana.health_data_removed());
  // Sets in class order: block, set, then left before right.
  ASSERT_EQ(ana.sets_size(), 4);
  auto set = [&](int i) {
    const v1::SetRecord& r = ana.sets(i);
    return absl::StrCat(r.block_index(), "/", r.set(), "/",
                        v1::Side_Name(r.side()), "=", r.reps(), " ",
                        r.exercise_id(), " (", r.exercise_name(), ")");
  };
  EXPECT_EQ(set(0), "0/1/SIDE_BOTH=11 bridge (Glute bridge)");
  EXPECT_EQ(set(1), "0/2/SIDE_BOTH=8 bridge (Glute bridge)");
  EXPECT_EQ(set(2), "2/1/SIDE_LEFT=5 curtsy (Curtsy step-down)");
  EXPECT_EQ(set(3), "2/1/SIDE_RIGHT=7 curtsy (Curtsy step-down)");
  // Every exercise of the circuit, in class order.
  ASSERT_EQ(ana.exercises_size(), 3);
  auto totals = [&](int i) {
    const v1::ExerciseTotals& t = ana.exercises(i);
    return absl::StrCat(t.exercise_id(), " (", t.exercise_name(), ") L",
                        t.left_reps(), " R", t.right_reps(), " B",
                        t.both_reps(), " sets ", t.sets());
  };
  EXPECT_EQ(totals(0), "bridge (Glute bridge) L0 R0 B19 sets 2");
  EXPECT_EQ(totals(1), "thrust (Hip thrust) L0 R0 B0 sets 0");
  EXPECT_EQ(totals(2), "curtsy (Curtsy step-down) L5 R7 B0 sets 1");

  ASSERT_EQ(ana.efforts_size(), 2);
  EXPECT_EQ(ana.efforts(0).block_index(), 2);
  EXPECT_EQ(ana.efforts(0).cr10(), 6);
  EXPECT_EQ(ana.efforts(0).feel(), v1::EFFORT_FEEL_JUST_RIGHT);
  EXPECT_EQ(ana.efforts(0).reported_unix_ms(), Ms(effort_at));
  EXPECT_FALSE(ana.efforts(1).has_cr10());
  EXPECT_EQ(ana.efforts(1).feel(), v1::EFFORT_FEEL_TOO_HARD);
  EXPECT_EQ(ana.efforts(1).reported_unix_ms(), Ms(now_));
  ASSERT_EQ(ana.symptoms_size(), 1);
  EXPECT_EQ(ana.symptoms(0).symptom(), v1::SYMPTOM_OTHER);
  EXPECT_EQ(ana.symptoms(0).other_text(), "sore wrist");
  EXPECT_EQ(ana.symptoms(0).block_index(), 2);
  EXPECT_EQ(ana.symptoms(0).reported_unix_ms(), Ms(now_));
  ASSERT_EQ(ana.suggestions_size(), 1);
  EXPECT_EQ(ana.suggestions(0).kind(), v1::SUGGESTION_KIND_REGRESSION);
  EXPECT_EQ(ana.suggestions(0).decision(), v1::SUGGESTION_DECISION_ACCEPTED);
  ASSERT_EQ(ana.alerts_size(), 2);
  EXPECT_EQ(ana.alerts(0).kind(), v1::ALERT_KIND_SYMPTOM);
  EXPECT_EQ(ana.alerts(1).kind(), v1::ALERT_KIND_DROPPED);

  const v1::ParticipantSummary& bo = summary.participants(1);
  EXPECT_EQ(bo.participant_id(), "p2");
  EXPECT_EQ(bo.sets_size(), 0);
  EXPECT_EQ(bo.exercises_size(), 3);
  EXPECT_EQ(bo.total_reps(), 0);
  EXPECT_EQ(bo.connection(), v1::CONNECTION_STATE_CONNECTED);
}

TEST_F(ClassSessionTest, SummaryKeepsEveryAlertNotOnlyTheLatest200) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  ASSERT_TRUE(
      Report("p1", Symptom("first", 0, v1::SYMPTOM_LOW_BACK_PAIN)).ok());
  for (int i = 0; i < 205; ++i) {
    ASSERT_TRUE(session_
                    ->Record(Input("p2", Symptom(absl::StrCat("s", i), 0,
                                                 v1::SYMPTOM_LOW_BACK_PAIN)),
                             now_)
                    .ok());
  }
  const v1::InstructorSnapshot snapshot = session_->InstructorSnapshot(now_);
  ASSERT_EQ(snapshot.alerts_size(), 200);
  EXPECT_EQ(snapshot.alerts(0).participant_id(), "p2");
  const v1::ClassSummary summary = session_->Summary(now_);
  ASSERT_EQ(summary.participants(0).alerts_size(), 1);
  EXPECT_EQ(summary.participants(0).alerts(0).alert_id(), "a1");
  EXPECT_EQ(summary.participants(1).alerts_size(), 205);
  EXPECT_EQ(summary.participants(1).symptoms_size(), 205);
}

TEST_F(ClassSessionTest, WallSummaryShowsOnlyConsentingNamesAndNoHealthData) {
  Join("p1", "Ana");
  Join("p2", "Hidden", /*show_name=*/false);
  Join("p3", "Cy");
  Join("p4", "Dee");
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  Complete("p2", "r1", 0, 1, v1::SIDE_BOTH, 12);
  Complete("p3", "r1", 0, 1, v1::SIDE_BOTH, 11);
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_TOO_HARD, 9)).ok());
  ASSERT_TRUE(
      Report("p1", Symptom("s1", 0, v1::SYMPTOM_OTHER, "zzsecretzz")).ok());
  ASSERT_TRUE(Report("p2", Symptom("s1", 0, v1::SYMPTOM_LEAKING)).ok());
  ASSERT_TRUE(
      session_->SetConnection("p3", v1::CONNECTION_STATE_LEFT, now_).ok());
  Do(EndCommand());
  // The instructor's summary does carry it (so the checks below can fail).
  EXPECT_THAT(session_->Summary(now_).DebugString(), HasSubstr("zzsecretzz"));

  const v1::WallSummary wall = session_->WallSummary();
  EXPECT_EQ(wall.class_id(), "c1");
  EXPECT_EQ(wall.title(), "Test");
  EXPECT_EQ(wall.phase(), v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(wall.participant_count(), 4);  // everyone who took part
  EXPECT_EQ(wall.total_reps(), 33);
  ASSERT_EQ(wall.wall_size(), 3);
  EXPECT_EQ(wall.wall(0).display_name(), "Cy");  // left, still shown
  EXPECT_EQ(wall.wall(0).total_reps(), 11);
  EXPECT_EQ(wall.wall(1).display_name(), "Ana");
  EXPECT_EQ(wall.wall(1).total_reps(), 10);
  EXPECT_EQ(wall.wall(2).display_name(), "Dee");
  EXPECT_EQ(wall.wall(2).total_reps(), 0);
  const std::string text = wall.DebugString();
  for (const char* health :
       {"Hidden", "zzsecretzz", "cr10", "feel", "symptom", "SYMPTOM", "EFFORT",
        "alert", "suggestion", "weeks_postpartum", "track"}) {
    EXPECT_THAT(text, Not(HasSubstr(health))) << text;
  }
}

// --- Erasing health data -----------------------------------------------------

TEST_F(ClassSessionTest, EraseHealthDataNeedsAnEndedClassAndAKnownParticipant) {
  Join("p1", "Ana");
  Do(StartCommand());
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_TOO_HARD, 9)).ok());
  const std::string before = Fingerprint();
  EXPECT_EQ(session_->EraseHealthData("p1").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fingerprint(), before);
  Do(EndCommand());
  EXPECT_EQ(session_->EraseHealthData("p9").code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(session_->EraseHealthData("p1").ok());
  EXPECT_TRUE(session_->EraseHealthData("p1").ok());  // again: nothing left
}

TEST_F(ClassSessionTest, EraseHealthDataRemovesItFromMemoryAndTheEventLog) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  Complete("p2", "r1", 0, 1, v1::SIDE_BOTH, 11);
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_TOO_HARD, 9)).ok());
  ASSERT_TRUE(Report("p1", Effort("e2", 0, v1::EFFORT_FEEL_TOO_HARD)).ok());
  ASSERT_TRUE(
      Report("p1", Symptom("s1", 0, v1::SYMPTOM_OTHER, "zzsecretzz")).ok());
  ASSERT_TRUE(
      Report("p1", Symptom("s2", 0, v1::SYMPTOM_PELVIC_HEAVINESS)).ok());
  ASSERT_TRUE(Report("p2", Symptom("s1", 0, v1::SYMPTOM_LEAKING)).ok());
  ASSERT_TRUE(
      Report("p2", Effort("e1", 0, v1::EFFORT_FEEL_JUST_RIGHT, 5)).ok());
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  Do(EndCommand());
  Drain();
  v1::ClassSummary summary = session_->Summary(now_);
  // Too hard twice in a row, two symptoms, the drop.
  ASSERT_THAT(summary.participants(0).alerts(), SizeIs(4));
  // p1's heaviness made s1 (the bridge has no regression for too hard);
  // p2's leaking made s2.
  ASSERT_EQ(summary.participants(0).suggestions(0).suggestion_id(), "s1");
  const std::string p2_suggestion =
      summary.participants(1).suggestions(0).suggestion_id();
  const int64_t last_seq = session_->last_seq();

  ASSERT_TRUE(session_->EraseHealthData("p1").ok());
  EXPECT_THAT(Drain(), IsEmpty());
  EXPECT_EQ(session_->last_seq(), last_seq);

  summary = session_->Summary(now_);
  const v1::ParticipantSummary& ana = summary.participants(0);
  EXPECT_TRUE(ana.health_data_removed());
  EXPECT_THAT(ana.efforts(), IsEmpty());
  EXPECT_THAT(ana.symptoms(), IsEmpty());
  EXPECT_THAT(ana.alerts(), IsEmpty());
  EXPECT_THAT(ana.suggestions(), IsEmpty());
  EXPECT_EQ(ana.total_reps(), 10);
  EXPECT_THAT(ana.sets(), SizeIs(1));
  EXPECT_EQ(ana.connection(), v1::CONNECTION_STATE_DROPPED);
  const v1::ParticipantSummary& bo = summary.participants(1);
  EXPECT_FALSE(bo.health_data_removed());
  EXPECT_THAT(bo.efforts(), SizeIs(1));
  EXPECT_THAT(bo.symptoms(), SizeIs(1));
  EXPECT_THAT(bo.alerts(), SizeIs(1));
  EXPECT_THAT(bo.suggestions(), SizeIs(1));
  EXPECT_EQ(summary.aggregates().median_cr10(), 5);  // Bo's only

  const v1::InstructorSnapshot snapshot = session_->InstructorSnapshot(now_);
  EXPECT_THAT(snapshot.DebugString(), Not(HasSubstr("zzsecretzz")));
  EXPECT_FALSE(snapshot.roster(0).progress().has_last_cr10());
  EXPECT_THAT(snapshot.roster(0).progress().symptoms(), IsEmpty());
  for (const v1::Alert& alert : snapshot.alerts()) {
    EXPECT_EQ(alert.participant_id(), "p2");
  }
  for (const v1::Suggestion& suggestion : snapshot.suggestions()) {
    EXPECT_EQ(suggestion.participant_id(), "p2");
  }

  // The retained events: p1's completion and connection stay; their effort,
  // symptom, alerts and suggestions are gone; p2's are all there.
  auto events = session_->EventsAfter(0);
  ASSERT_TRUE(events.has_value());
  int p1_completions = 0;
  int p2_health = 0;
  int64_t previous = 0;
  for (const Event* e : *events) {
    EXPECT_GT(e->event.seq(), previous);
    previous = e->event.seq();
    const std::string text = e->event.DebugString();
    EXPECT_THAT(text, Not(HasSubstr("zzsecretzz")));
    if (e->event.has_report()) {
      const v1::ReportRecorded& report = e->event.report();
      if (report.participant_id() == "p1") {
        EXPECT_TRUE(report.has_completion()) << text;
        ++p1_completions;
      } else if (!report.has_completion()) {
        ++p2_health;
      }
    }
    if (e->event.has_alert()) {
      EXPECT_EQ(e->event.alert().participant_id(), "p2");
    }
    if (e->event.has_suggestion()) {
      EXPECT_EQ(e->event.suggestion().participant_id(), "p2");
    }
  }
  EXPECT_EQ(p1_completions, 1);
  EXPECT_EQ(p2_health, 2);

  // p1's suggestion ids are gone; p2's still take a decision.
  EXPECT_EQ(Code(DecideCommand("s1", v1::SUGGESTION_DECISION_ACCEPTED)),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(p2_suggestion, "s2");
  Do(DecideCommand(p2_suggestion, v1::SUGGESTION_DECISION_ACCEPTED));
}

TEST_F(ClassSessionTest, EraseHealthDataOfEveryoneLeavesNoRatingBehind) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_TOO_EASY, 2)).ok());
  ASSERT_TRUE(Report("p2", Symptom("s1", 0, v1::SYMPTOM_LEAKING)).ok());
  Do(EndCommand());
  ASSERT_TRUE(session_->EraseHealthData("").ok());
  const v1::ClassSummary summary = session_->Summary(now_);
  for (const v1::ParticipantSummary& p : summary.participants()) {
    EXPECT_TRUE(p.health_data_removed());
    EXPECT_THAT(p.efforts(), IsEmpty());
    EXPECT_THAT(p.symptoms(), IsEmpty());
    EXPECT_THAT(p.alerts(), IsEmpty());
    EXPECT_THAT(p.suggestions(), IsEmpty());
  }
  EXPECT_FALSE(summary.aggregates().has_median_cr10());
  EXPECT_EQ(summary.aggregates().too_easy_count(), 0);
  const auto events = session_->EventsAfter(0);
  ASSERT_TRUE(events.has_value());
  for (const Event* e : *events) {
    EXPECT_FALSE(e->event.has_alert() || e->event.has_suggestion());
    EXPECT_TRUE(!e->event.has_report() || e->event.report().has_completion());
  }
}

// --- Event log and resume ----------------------------------------------------

TEST_F(ClassSessionTest, ResumeInsideRetentionReturnsTheMissedEvents) {
  Join("p1", "Ana");
  Do(StartCommand());
  Do(CueCommand("one"));
  Do(CueCommand("two"));
  ASSERT_EQ(session_->last_seq(), 4);
  auto missed = session_->EventsAfter(2);
  ASSERT_TRUE(missed.has_value());
  ASSERT_THAT(*missed, SizeIs(2));
  EXPECT_EQ((*missed)[0]->event.seq(), 3);
  EXPECT_EQ((*missed)[1]->event.cue().text(), "two");
  EXPECT_THAT(*session_->EventsAfter(0), SizeIs(4));
  EXPECT_THAT(*session_->EventsAfter(4), IsEmpty());
  // A client that claims more than there is gets nothing rather than an
  // error: the caller decides what to do with it.
  EXPECT_THAT(*session_->EventsAfter(99), IsEmpty());
}

TEST_F(ClassSessionTest, ResumeBeyondRetentionReturnsNullopt) {
  SessionOptions options;
  options.retention_events = 3;
  Make(TestLibrary(), "test", options);
  for (int i = 0; i < 6; ++i) Do(CueCommand(absl::StrCat("cue ", i)));
  EXPECT_FALSE(session_->EventsAfter(0).has_value());
  EXPECT_FALSE(session_->EventsAfter(2).has_value());
  auto kept = session_->EventsAfter(3);
  ASSERT_TRUE(kept.has_value());
  ASSERT_THAT(*kept, SizeIs(3));
  EXPECT_EQ((*kept)[0]->event.seq(), 4);
  EXPECT_THAT(*session_->EventsAfter(6), IsEmpty());
  // Draining is separate from retention: every event is drained once.
  EXPECT_THAT(Drain(), SizeIs(6));
  EXPECT_THAT(Drain(), IsEmpty());
}

TEST_F(ClassSessionTest, SameInputsGiveTheSameEvents) {
  auto run = [this] {
    Make(TestLibrary(), "test");
    Join("p1", "Ana");
    Join("p2", "Bo");
    Do(StartCommand());
    Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 4);
    EXPECT_TRUE(Report("p2", Symptom("s", 0, v1::SYMPTOM_HIP_PINCH)).ok());
    EXPECT_TRUE(
        session_->SetConnection("p2", v1::CONNECTION_STATE_DROPPED, now_).ok());
    session_->Tick(now_ + absl::Minutes(20));
    std::string out;
    for (const Event& e : Drain()) {
      out += e.event.SerializeAsString() + e.participant_id;
    }
    return out;
  };
  const std::string first = run();
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(run(), first);
}

TEST_F(ClassSessionTest, ApplyEntryAppliesEachInputAtItsTime) {
  auto at = [](int64_t ms) {
    internal::Entry entry;
    entry.set_at_unix_ms(Ms(kT0) + ms);
    return entry;
  };
  internal::Entry join = at(0);
  join.mutable_join()->set_participant_id("p1");
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  EXPECT_TRUE(session_->ApplyEntry(join).status.ok());
  EXPECT_EQ(session_->ApplyEntry(join).status.code(),
            absl::StatusCode::kAlreadyExists);

  internal::Entry start = at(1000);
  start.mutable_command()->mutable_start();
  const EntryOutcome started = session_->ApplyEntry(start);
  EXPECT_TRUE(started.status.ok());
  EXPECT_EQ(started.seq, session_->last_seq());
  EXPECT_EQ(session_->info().started_unix_ms(), Ms(kT0) + 1000);

  internal::Entry report = at(2000);
  *report.mutable_report() =
      Input("p1", Completion("r1", 0, 1, v1::SIDE_BOTH, 10));
  const EntryOutcome reported = session_->ApplyEntry(report);
  EXPECT_TRUE(reported.status.ok());
  EXPECT_EQ(reported.seq, session_->last_seq());
  EXPECT_FALSE(reported.duplicate);
  const EntryOutcome again = session_->ApplyEntry(report);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, reported.seq);
  *report.mutable_report() =
      Input("p1", Completion("r2", 0, 1, v1::SIDE_BOTH, 500));
  EXPECT_EQ(session_->ApplyEntry(report).status.code(),
            absl::StatusCode::kInvalidArgument);

  internal::Entry token = at(2500);
  token.mutable_token()->set_participant_id("p1");
  const std::string before = Fingerprint();
  EXPECT_TRUE(session_->ApplyEntry(token).status.ok());
  EXPECT_EQ(Fingerprint(), before);

  internal::Entry drop = at(3000);
  drop.mutable_connection()->set_participant_id("p1");
  drop.mutable_connection()->set_state(v1::CONNECTION_STATE_DROPPED);
  EXPECT_TRUE(session_->ApplyEntry(drop).status.ok());
  EXPECT_EQ(session_->Connection("p1"), v1::CONNECTION_STATE_DROPPED);

  internal::Entry tick = at(31000);  // the first interval's deadline
  tick.mutable_tick();
  EXPECT_TRUE(session_->ApplyEntry(tick).status.ok());
  EXPECT_EQ(session_->State(kT0 + absl::Seconds(31)).current().index(), 1);

  internal::Entry restart = at(32000);
  restart.mutable_restart();
  EXPECT_TRUE(session_->ApplyEntry(restart).status.ok());
  EXPECT_EQ(session_->phase(), v1::CLASS_PHASE_PAUSED);

  EXPECT_EQ(session_->ApplyEntry(at(40000)).status.code(),
            absl::StatusCode::kInvalidArgument);
}

// --- Roster, aggregates and progress -----------------------------------------

TEST_F(ClassSessionTest, RosterUpdateListsOnlyChangedEntries) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Join("p3", "Cy");
  auto update = session_->TakeRosterUpdate();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->changed_size(), 3);
  EXPECT_EQ(update->aggregates().connected_count(), 3);
  EXPECT_FALSE(session_->TakeRosterUpdate().has_value());

  Do(StartCommand());
  EXPECT_FALSE(session_->TakeRosterUpdate().has_value());
  Complete("p2", "r1", 0, 1, v1::SIDE_BOTH, 10);
  update = session_->TakeRosterUpdate();
  ASSERT_TRUE(update.has_value());
  ASSERT_EQ(update->changed_size(), 1);
  EXPECT_EQ(update->changed(0).participant_id(), "p2");
  EXPECT_TRUE(update->changed(0).done_current());
  EXPECT_EQ(update->aggregates().done_current_count(), 1);

  ASSERT_TRUE(
      session_->SetConnection("p3", v1::CONNECTION_STATE_DROPPED, now_).ok());
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_JUST_RIGHT)).ok());
  update = session_->TakeRosterUpdate();
  ASSERT_TRUE(update.has_value());
  ASSERT_EQ(update->changed_size(), 2);
  EXPECT_EQ(update->changed(0).participant_id(), "p1");
  EXPECT_EQ(update->changed(1).participant_id(), "p3");
  EXPECT_EQ(update->changed(1).connection(), v1::CONNECTION_STATE_DROPPED);

  // Moving on clears p2's done_current: only p2 changes.
  Do(NextCommand());
  update = session_->TakeRosterUpdate();
  ASSERT_TRUE(update.has_value());
  ASSERT_EQ(update->changed_size(), 1);
  EXPECT_EQ(update->changed(0).participant_id(), "p2");
  EXPECT_FALSE(update->changed(0).done_current());
  EXPECT_EQ(update->aggregates().done_current_count(), 0);
}

TEST_F(ClassSessionTest, RosterShowsProgressPerBlockAndSide) {
  Join("p1", "Ana");
  Do(StartCommand());
  GoTo(9);
  Complete("p1", "a", 0, 1, v1::SIDE_BOTH, 12);
  Complete("p1", "b", 0, 2, v1::SIDE_BOTH, 8);  // under 10
  Complete("p1", "c", 2, 1, v1::SIDE_RIGHT, 7);
  Complete("p1", "d", 2, 1, v1::SIDE_LEFT, 5);  // under 6
  ASSERT_TRUE(Report("p1", Effort("e", 2, v1::EFFORT_FEEL_JUST_RIGHT, 6)).ok());
  ASSERT_TRUE(
      Report("p1", Effort("f", 2, v1::EFFORT_FEEL_UNSPECIFIED, 5)).ok());
  const v1::RosterEntry entry = session_->InstructorSnapshot(now_).roster(0);
  const v1::ParticipantProgress& progress = entry.progress();
  ASSERT_EQ(progress.blocks_size(), 3);
  EXPECT_EQ(progress.blocks(0).block_index(), 0);
  EXPECT_EQ(progress.blocks(0).side(), v1::SIDE_BOTH);
  EXPECT_EQ(progress.blocks(0).sets_done(), 2);
  EXPECT_EQ(progress.blocks(0).reps(), 20);
  EXPECT_EQ(progress.blocks(0).sets_under_range(), 1);
  EXPECT_EQ(progress.blocks(1).side(), v1::SIDE_LEFT);  // class order
  EXPECT_EQ(progress.blocks(1).reps(), 5);
  EXPECT_EQ(progress.blocks(1).sets_under_range(), 1);
  EXPECT_EQ(progress.blocks(2).side(), v1::SIDE_RIGHT);
  EXPECT_EQ(progress.blocks(2).sets_under_range(), 0);
  EXPECT_EQ(progress.total_reps(), 32);
  EXPECT_EQ(progress.last_cr10(), 5);
  EXPECT_EQ(progress.last_feel(), v1::EFFORT_FEEL_JUST_RIGHT);
  EXPECT_TRUE(entry.done_current());  // curtsy right, set 1
}

TEST_F(ClassSessionTest, AggregatesCountDoneShareMedianAndFeel) {
  for (int i = 1; i <= 5; ++i) Join(absl::StrCat("p", i), "N");
  Do(StartCommand());
  Complete("p1", "r", 0, 1, v1::SIDE_BOTH, 10);
  Complete("p2", "r", 0, 1, v1::SIDE_BOTH, 10);
  ASSERT_TRUE(
      session_->SetConnection("p5", v1::CONNECTION_STATE_DROPPED, now_).ok());
  const std::vector<std::pair<int, v1::EffortFeel>> ratings = {
      {3, v1::EFFORT_FEEL_TOO_EASY},
      {8, v1::EFFORT_FEEL_TOO_HARD},
      {5, v1::EFFORT_FEEL_JUST_RIGHT},
      {6, v1::EFFORT_FEEL_JUST_RIGHT}};
  for (size_t i = 0; i < ratings.size(); ++i) {
    ASSERT_TRUE(Report(absl::StrCat("p", i + 1),
                       Effort("e", 0, ratings[i].second, ratings[i].first))
                    .ok());
  }
  v1::ClassAggregates a = session_->InstructorSnapshot(now_).aggregates();
  EXPECT_EQ(a.connected_count(), 4);
  EXPECT_EQ(a.dropped_count(), 1);
  EXPECT_EQ(a.done_current_count(), 2);
  EXPECT_DOUBLE_EQ(a.done_current_share(), 0.4);
  EXPECT_DOUBLE_EQ(a.median_cr10(), 5.5);  // 3 5 6 8
  EXPECT_EQ(a.too_easy_count(), 1);
  EXPECT_EQ(a.just_right_count(), 2);
  EXPECT_EQ(a.too_hard_count(), 1);

  // A participant who leaves stops counting; their reps stay in the total.
  ASSERT_TRUE(
      session_->SetConnection("p4", v1::CONNECTION_STATE_LEFT, now_).ok());
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_LEFT, now_).ok());
  a = session_->InstructorSnapshot(now_).aggregates();
  EXPECT_EQ(a.connected_count(), 2);
  EXPECT_EQ(a.done_current_count(), 1);
  EXPECT_DOUBLE_EQ(a.median_cr10(), 6.5);  // 5 8
  EXPECT_EQ(a.too_easy_count(), 0);
  EXPECT_EQ(session_->Progress().total_reps(), 20);
  EXPECT_EQ(session_->Progress().participant_count(), 3);

  Make(TestLibrary(), "test");
  EXPECT_FALSE(
      session_->InstructorSnapshot(now_).aggregates().has_median_cr10());
  EXPECT_EQ(session_->Progress().done_current_share(), 0.0);
}

TEST_F(ClassSessionTest, DoneCurrentFollowsTheCurrentWorkInterval) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  EXPECT_EQ(session_->Progress().done_current_count(), 1);
  EXPECT_DOUBLE_EQ(session_->Progress().done_current_share(), 0.5);
  Do(NextCommand());  // rest: nobody is done with a rest
  EXPECT_EQ(session_->Progress().done_current_count(), 0);
  Complete("p2", "r1", 0, 2, v1::SIDE_BOTH, 10);  // ahead, within the block
  Do(NextCommand());                              // set 2
  EXPECT_EQ(session_->Progress().done_current_count(), 1);
  Do(PreviousCommand());
  Do(PreviousCommand());  // back to set 1
  EXPECT_EQ(session_->Progress().done_current_count(), 1);
  EXPECT_TRUE(session_->Progress().wall(1).done_current());  // Ana
}

TEST_F(ClassSessionTest, WallShowsConsentingNamesLatestFirstAtMost48) {
  Join("p1", "Ana");
  Join("p2", "Hidden", /*show_name=*/false);
  Join("p3", "Cy");
  Join("p4", "Dee");
  Do(StartCommand());
  Complete("p3", "r", 0, 1, v1::SIDE_BOTH, 10);
  Complete("p2", "r", 0, 1, v1::SIDE_BOTH, 11);
  Complete("p1", "r", 0, 1, v1::SIDE_BOTH, 12);
  v1::ClassProgress progress = session_->Progress();
  EXPECT_EQ(progress.participant_count(), 4);
  EXPECT_EQ(progress.total_reps(), 33);
  ASSERT_EQ(progress.wall_size(), 3);
  EXPECT_EQ(progress.wall(0).display_name(), "Ana");
  EXPECT_EQ(progress.wall(0).total_reps(), 12);
  EXPECT_TRUE(progress.wall(0).done_current());
  EXPECT_EQ(progress.wall(1).display_name(), "Cy");
  EXPECT_EQ(progress.wall(2).display_name(), "Dee");  // nothing yet
  EXPECT_FALSE(progress.wall(2).done_current());
  EXPECT_THAT(progress.DebugString(), Not(HasSubstr("Hidden")));

  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_LEFT, now_).ok());
  EXPECT_EQ(session_->Progress().wall(0).display_name(), "Cy");
  for (int i = 0; i < 60; ++i) Join(absl::StrCat("x", i), "Extra");
  EXPECT_EQ(session_->Progress().wall_size(), 48);
}

v1::CompletionReport WithParts(
    v1::CompletionReport report,
    const std::vector<std::pair<std::string, int>>& parts) {
  for (const auto& [id, amount] : parts) {
    v1::PartDone* done = report.add_parts();
    done->set_part_id(id);
    done->set_amount(amount);
  }
  return report;
}

// The 8-8-8 thrust: she logs what she did of each part; reps stays the
// first part's, so every reader of reps keeps its meaning.
TEST_F(ClassSessionTest, PartsOfACombinationSetAreValidatedAndSummarized) {
  Join("p1", "Ana");
  Do(StartCommand());
  GoTo(4);  // thrust, set 1
  auto refused = [&](const v1::CompletionReport& report) {
    absl::StatusOr<ReportResult> result = Report("p1", report);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(result.status().message());
  };
  const v1::CompletionReport thrust = Completion("r", 1, 1, v1::SIDE_BOTH, 8);
  EXPECT_EQ(refused(WithParts(Completion("r", 0, 1, v1::SIDE_BOTH, 8),
                              {{"full", 8}})),
            "parts given for block 0 (b-bridge), whose exercise is logged as "
            "one number: report reps only");
  EXPECT_EQ(
      refused(WithParts(thrust, {{"full", 8}, {"pulses", 8}, {"hold", 8}})),
      "part \"pulses\" does not exist; \"thrust\" has parts \"full\", "
      "\"pulse\", \"hold\"");
  EXPECT_EQ(refused(WithParts(thrust, {{"full", 8}, {"full", 8}, {"hold", 8}})),
            "part \"full\" is given twice");
  EXPECT_EQ(refused(WithParts(thrust, {{"full", 8}, {"hold", 8}})),
            "part \"pulse\" is missing: give every part or none");
  EXPECT_EQ(
      refused(WithParts(thrust, {{"full", 8}, {"pulse", 8}, {"hold", 601}})),
      "part \"hold\" must be 0 to 600 seconds, got 601");
  EXPECT_EQ(
      refused(WithParts(thrust, {{"full", 8}, {"pulse", 101}, {"hold", 8}})),
      "part \"pulse\" must be 0 to 100 reps, got 101");
  EXPECT_EQ(
      refused(WithParts(thrust, {{"full", 7}, {"pulse", 8}, {"hold", 8}})),
      "reps 8 must equal the first part (\"full\": 7): reps counts the "
      "first part");
  EXPECT_EQ(refused(WithParts(
                thrust, {{"full", 8}, {"pulse", 8}, {"hold", 8}, {"hold", 8}})),
            "4 parts given; \"thrust\" has 3");

  // Accepted in any order; the summary keeps the exercise's order.
  ASSERT_TRUE(
      Report("p1", WithParts(thrust, {{"hold", 5}, {"full", 8}, {"pulse", 6}}))
          .ok());
  v1::ParticipantSummary summary = session_->Summary(now_).participants(0);
  ASSERT_EQ(summary.sets_size(), 1);
  EXPECT_EQ(summary.sets(0).reps(), 8);
  EXPECT_EQ(summary.total_reps(), 8);
  ASSERT_EQ(summary.sets(0).parts_size(), 3);
  EXPECT_EQ(summary.sets(0).parts(0).part_id(), "full");
  EXPECT_EQ(summary.sets(0).parts(1).part_id(), "pulse");
  EXPECT_EQ(summary.sets(0).parts(1).amount(), 6);
  EXPECT_EQ(summary.sets(0).parts(2).part_id(), "hold");
  EXPECT_EQ(summary.sets(0).parts(2).amount(), 5);

  // A correction with reps only (an app that knows no parts) drops them.
  ASSERT_TRUE(Report("p1", Completion("r2", 1, 1, v1::SIDE_BOTH, 7)).ok());
  summary = session_->Summary(now_).participants(0);
  ASSERT_EQ(summary.sets_size(), 1);
  EXPECT_EQ(summary.sets(0).reps(), 7);
  EXPECT_EQ(summary.sets(0).parts_size(), 0);
}

TEST_F(ClassSessionTest, KioskSeesNoHealthData) {
  Join("p1", "Ana");
  Join("p2", "Hidden", /*show_name=*/false);
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_TOO_HARD, 9)).ok());
  ASSERT_TRUE(
      Report("p2", Symptom("s1", 0, v1::SYMPTOM_OTHER, "zzsecretzz")).ok());
  ASSERT_TRUE(Report("p1", Symptom("s2", 0, v1::SYMPTOM_LEAKING)).ok());
  // The instructor does see it (so the check below can fail).
  const std::string instructor =
      session_->InstructorSnapshot(now_).DebugString();
  EXPECT_THAT(instructor, HasSubstr("zzsecretzz"));
  EXPECT_THAT(instructor, HasSubstr("last_cr10"));
  // Track options go to the instructor and her phone, never to a kiosk.
  EXPECT_THAT(instructor, HasSubstr("zztracknotezz"));
  auto own = session_->ParticipantSnapshot("p1", now_);
  ASSERT_TRUE(own.ok());
  EXPECT_THAT(own->DebugString(), HasSubstr("zztracknotezz"));

  for (const std::string& text : {session_->KioskSnapshot(now_).DebugString(),
                                  session_->Progress().DebugString()}) {
    for (const char* health : {"cr10", "feel", "symptom", "SYMPTOM", "EFFORT",
                               "zzsecretzz", "Hidden", "alert", "suggestion",
                               "weeks_postpartum", "track", "zztracknotezz"}) {
      EXPECT_THAT(text, Not(HasSubstr(health))) << text;
    }
  }
  // Every public event is state or a cue.
  for (const Event& e : Drain()) {
    if (e.audience == Audience::kPublic) {
      EXPECT_TRUE(e.event.has_state() || e.event.has_cue());
    } else {
      EXPECT_FALSE(e.event.has_state() || e.event.has_cue());
    }
  }
}

TEST_F(ClassSessionTest, ProgressChangesOnJoinsCompletionsAndIntervals) {
  EXPECT_FALSE(session_->TakeProgressChanged());
  Join("p1", "Ana");
  EXPECT_TRUE(session_->TakeProgressChanged());
  EXPECT_FALSE(session_->TakeProgressChanged());
  Do(StartCommand());
  EXPECT_TRUE(session_->TakeProgressChanged());
  ASSERT_TRUE(Report("p1", Effort("e1", 0, v1::EFFORT_FEEL_JUST_RIGHT)).ok());
  EXPECT_FALSE(session_->TakeProgressChanged());  // effort is not progress
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  EXPECT_TRUE(session_->TakeProgressChanged());
  ASSERT_TRUE(
      session_->SetConnection("p1", v1::CONNECTION_STATE_DROPPED, now_).ok());
  EXPECT_TRUE(session_->TakeProgressChanged());
  session_->Tick(now_ + absl::Seconds(30));
  EXPECT_TRUE(session_->TakeProgressChanged());
}

TEST_F(ClassSessionTest, SnapshotsCarryWhatEachRoleMaySee) {
  Join("p1", "Ana");
  Join("p2", "Bo");
  Do(StartCommand());
  Complete("p1", "r1", 0, 1, v1::SIDE_BOTH, 10);
  ASSERT_TRUE(Report("p1", Symptom("s1", 0, v1::SYMPTOM_LEAKING)).ok());
  now_ += absl::Seconds(5);
  v1::InstructorSnapshot instructor = session_->InstructorSnapshot(now_);
  EXPECT_EQ(instructor.seq(), session_->last_seq());
  EXPECT_EQ(instructor.reason(), v1::SNAPSHOT_REASON_INITIAL);
  EXPECT_EQ(instructor.class_info().class_id(), "c1");
  EXPECT_EQ(instructor.class_info().phase(), v1::CLASS_PHASE_RUNNING);
  EXPECT_EQ(instructor.class_info().participant_count(), 2);
  EXPECT_EQ(instructor.state().timer().remaining_ms(), 25000);
  EXPECT_EQ(instructor.roster_size(), 2);
  EXPECT_EQ(instructor.alerts_size(), 1);
  EXPECT_EQ(instructor.suggestions_size(), 1);
  EXPECT_EQ(instructor.circuit().id(), "test");
  EXPECT_EQ(instructor.exercises_size(), 6);  // 3 used, 3 linked
  EXPECT_EQ(instructor.aggregates().done_current_count(), 1);

  auto own = session_->ParticipantSnapshot("p1", now_);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->seq(), session_->last_seq());
  EXPECT_EQ(own->participant_id(), "p1");
  EXPECT_EQ(own->check_in().display_name(), "Ana");
  EXPECT_EQ(own->own_progress().total_reps(), 10);
  EXPECT_EQ(own->suggestions_size(), 1);
  EXPECT_EQ(own->progress().total_reps(), 10);
  auto other = session_->ParticipantSnapshot("p2", now_);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->suggestions_size(), 0);
  EXPECT_EQ(other->own_progress().total_reps(), 0);
  EXPECT_EQ(session_->ParticipantSnapshot("p9", now_).status().code(),
            absl::StatusCode::kNotFound);

  v1::KioskSnapshot kiosk = session_->KioskSnapshot(now_);
  EXPECT_EQ(kiosk.seq(), session_->last_seq());
  EXPECT_EQ(kiosk.progress().wall_size(), 2);
  EXPECT_EQ(kiosk.exercises_size(), instructor.exercises_size());
}

}  // namespace
}  // namespace circuit::engine
