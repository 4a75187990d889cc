// The pure parts of the terminal views: text fitting, the block font, the
// screen's redraw, key parsing, the views themselves over hand-built
// mirrors, and the plain-mode command parsing.
#include "client/tui/views.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/lib/class_mirror.h"
#include "client/tui/big_digits.h"
#include "client/tui/plain.h"
#include "client/tui/screen.h"
#include "client/tui/terminal.h"
#include "client/tui/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::client::tui {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'700'000'000'000;

std::string Join(const Frame& frame) {
  return absl::StrJoin(frame.lines, "\n");
}

// True when the rows of BigText(text) appear, one under the other, in
// consecutive lines of `frame`.
bool ShowsBigText(const Frame& frame, const std::string& text) {
  const std::vector<std::string> rows = BigText(text);
  for (size_t start = 0; start + rows.size() <= frame.lines.size(); ++start) {
    const size_t column = frame.lines[start].find(rows[0]);
    if (column == std::string::npos) continue;
    bool all = true;
    for (size_t r = 1; r < rows.size() && all; ++r) {
      all = frame.lines[start + r].find(rows[r]) != std::string::npos;
    }
    if (all) return true;
  }
  return false;
}

void ExpectFits(const Frame& frame, int width, int height) {
  ASSERT_EQ(static_cast<int>(frame.lines.size()), height);
  for (const std::string& line : frame.lines) {
    EXPECT_EQ(DisplayWidth(line), width) << "[" << line << "]";
    EXPECT_EQ(line.find('\x1b'), std::string::npos);
  }
}

v1::ClassState RunningState() {
  v1::ClassState state;
  state.set_class_id("c-1");
  state.set_phase(v1::CLASS_PHASE_RUNNING);
  state.set_interval_count(23);
  v1::Interval* current = state.mutable_current();
  current->set_index(2);
  current->set_kind(v1::INTERVAL_KIND_WORK);
  current->set_block_index(1);
  current->set_exercise_id("kickback-glute-max");
  current->set_exercise_name("Banded kickback (glute max)");
  current->set_set(1);
  current->set_set_count(2);
  current->set_side(v1::SIDE_LEFT);
  current->mutable_target_reps()->set_min_reps(8);
  current->mutable_target_reps()->set_max_reps(10);
  current->set_duration_ms(45000);
  v1::Interval* next = state.mutable_next();
  next->set_index(3);
  next->set_kind(v1::INTERVAL_KIND_REST);
  next->set_duration_ms(15000);
  state.mutable_timer()->set_running(true);
  state.mutable_timer()->set_started_unix_ms(kNow - 3000);
  state.mutable_timer()->set_deadline_unix_ms(kNow + 42000);
  state.mutable_timer()->set_remaining_ms(45000);
  return state;
}

v1::ClassProgress Progress() {
  v1::ClassProgress progress;
  progress.set_participant_count(3);
  progress.set_done_current_count(1);
  progress.set_total_reps(57);
  v1::WallEntry* dana = progress.add_wall();
  dana->set_display_name("Dana");
  dana->set_total_reps(18);
  dana->set_done_current(true);
  v1::WallEntry* ari = progress.add_wall();
  ari->set_display_name("Ari");
  ari->set_total_reps(12);
  return progress;
}

template <typename Snapshot>
void FillCommon(Snapshot* s) {
  s->set_seq(7);
  s->mutable_class_info()->set_class_id("c-1");
  s->mutable_class_info()->set_title("Kickback trio");
  s->mutable_class_info()->set_join_code("HAV9DZ");
  *s->mutable_state() = RunningState();
  *s->mutable_progress() = Progress();
  v1::Cue* cue = s->add_recent_cues();
  cue->set_text("Squeeze at the top");
  cue->set_sent_unix_ms(kNow - 1000);
}

v1::RosterEntry Entry(const std::string& id, const std::string& name,
                      v1::ConnectionState connection, int reps) {
  v1::RosterEntry entry;
  entry.set_participant_id(id);
  entry.mutable_check_in()->set_display_name(name);
  entry.set_connection(connection);
  entry.mutable_progress()->set_total_reps(reps);
  return entry;
}

v1::Suggestion SuggestionFor(const std::string& id,
                             v1::SuggestionDecision decision) {
  v1::Suggestion s;
  s.set_suggestion_id("s-1");
  s.set_participant_id(id);
  s.set_kind(v1::SUGGESTION_KIND_DRILL);
  s.set_suggested_exercise_name("Hip shift drill");
  s.set_reason("the front of the hip pinched");
  s.set_decision(decision);
  return s;
}

ClassMirror InstructorMirror() {
  v1::InstructorSnapshot s;
  FillCommon(&s);
  v1::RosterEntry dana =
      Entry("p-1", "Dana", v1::CONNECTION_STATE_CONNECTED, 18);
  dana.set_done_current(true);
  dana.mutable_progress()->set_last_feel(v1::EFFORT_FEEL_TOO_HARD);
  dana.mutable_progress()->set_last_cr10(7);
  dana.mutable_progress()->add_symptoms(v1::SYMPTOM_HIP_PINCH);
  *s.add_roster() = dana;
  *s.add_roster() = Entry("p-2", "Ari", v1::CONNECTION_STATE_DROPPED, 12);
  *s.add_roster() = Entry("p-3", "Sam", v1::CONNECTION_STATE_LEFT, 27);
  v1::ClassAggregates* a = s.mutable_aggregates();
  a->set_connected_count(1);
  a->set_dropped_count(1);
  a->set_done_current_count(1);
  a->set_too_hard_count(1);
  a->set_median_cr10(7);
  v1::Alert* alert = s.add_alerts();
  alert->set_alert_id("a-1");
  alert->set_participant_id("p-1");
  alert->set_display_name("Dana");
  alert->set_kind(v1::ALERT_KIND_SYMPTOM);
  alert->set_severity(v1::ALERT_SEVERITY_PRIORITY);
  alert->set_symptom(v1::SYMPTOM_LEAKING);
  alert->set_text("Dana reported leaking");
  *s.add_suggestions() =
      SuggestionFor("p-1", v1::SUGGESTION_DECISION_UNSPECIFIED);
  ClassMirror mirror;
  mirror.Apply(s);
  return mirror;
}

ClassMirror KioskMirror() {
  v1::KioskSnapshot s;
  FillCommon(&s);
  ClassMirror mirror;
  mirror.Apply(s);
  return mirror;
}

ClassMirror ParticipantMirror() {
  v1::ParticipantSnapshot s;
  FillCommon(&s);
  s.set_participant_id("p-1");
  s.mutable_check_in()->set_display_name("Dana");
  s.mutable_own_progress()->set_total_reps(18);
  s.mutable_own_progress()->set_last_feel(v1::EFFORT_FEEL_JUST_RIGHT);
  *s.add_suggestions() = SuggestionFor("p-1", v1::SUGGESTION_DECISION_ACCEPTED);
  ClassMirror mirror;
  mirror.Apply(s);
  return mirror;
}

SessionStatus Live() {
  SessionStatus status;
  status.link = LinkState::kLive;
  return status;
}

const int kWidths[] = {120, 100, 80, 40, 39, 20, 8, 1};
const int kHeights[] = {40, 30, 24, 20, 19, 10, 4, 2, 1};

// --- Text, font, screen, keys ------------------------------------------------

TEST(TextTest, FitCountsCodePointsAndPads) {
  EXPECT_EQ(Fit("héllo", 3), "hél");
  EXPECT_EQ(Fit("✓ ok", 6), "✓ ok  ");
  EXPECT_EQ(DisplayWidth(Fit("✓ ok", 6)), 6);
  EXPECT_EQ(Clip("abcdef", 4), "abc…");
  EXPECT_EQ(Clip("abc", 4), "abc");
  EXPECT_EQ(Spread("left", "right", 12), "left   right");
  EXPECT_EQ(DisplayWidth(Spread("a very long left side", "right", 12)), 12);
}

TEST(TextTest, SanitizeRemovesControlsAndBadUtf8) {
  // ESC, BEL and the C1 CSI (U+009B) become spaces; stray bytes become '?'.
  const std::string clean = Sanitize("Dana\x1b[2J\x07\xc2\x9b\x9b\xff!");
  EXPECT_EQ(clean.find('\x1b'), std::string::npos);
  EXPECT_EQ(clean.find('\x07'), std::string::npos);
  EXPECT_EQ(clean,
            "Dana [2J  ?"
            "?!");
  std::string text = "añ";
  PopCodePoint(&text);
  EXPECT_EQ(text, "a");
}

TEST(BigDigitsTest, RowsHaveEqualWidth) {
  const std::vector<std::string> rows = BigText("00:42");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kBigTextRows));
  for (const std::string& row : rows) {
    EXPECT_EQ(DisplayWidth(row), BigTextWidth("00:42"));
  }
  EXPECT_NE(BigText("4"), BigText("2"));
  EXPECT_EQ(BigText("1")[0], "  ██  ");
}

TEST(ScreenTest, RewritesOnlyChangedLines) {
  std::vector<std::string> written;
  Screen screen([&](const std::string& bytes) {
    written.push_back(bytes);
    return true;
  });
  screen.Resize(10, 3);
  Frame frame;
  frame.lines = {"one", "two", "three"};
  const std::string first = screen.Update(frame);
  EXPECT_THAT(first, HasSubstr("\x1b[2J"));
  EXPECT_THAT(first, HasSubstr("\x1b[3;1Hthree     "));
  EXPECT_EQ(screen.Update(frame), "");
  frame.lines[1] = "TWO";
  const std::string second = screen.Update(frame);
  EXPECT_EQ(second, "\x1b[2;1HTWO       ");
  // A resize redraws everything once.
  screen.Resize(5, 3);
  ASSERT_TRUE(screen.Draw(frame));
  ASSERT_EQ(written.size(), 1u);
  EXPECT_THAT(written[0], HasSubstr("\x1b[2J"));
  EXPECT_THAT(written[0], HasSubstr("\x1b[3;1Hthree"));
  EXPECT_TRUE(screen.Draw(frame));
  EXPECT_EQ(written.size(), 1u) << "an unchanged frame writes nothing";
}

TEST(ScreenTest, HighlightedRowsAreReversed) {
  Screen screen([](const std::string&) { return true; });
  screen.Resize(4, 2);
  Frame frame;
  frame.lines = {"bar", "x"};
  frame.highlighted = {0};
  EXPECT_THAT(screen.Update(frame), HasSubstr("\x1b[1;1H\x1b[7mbar \x1b[0m"));
}

TEST(KeysTest, ParsesEnterBackspaceEscapeAndSequences) {
  std::string rest;
  std::vector<Key> keys = ParseKeys("9\r\x7f\x1b[Aé", true, &rest);
  ASSERT_EQ(keys.size(), 5u);
  EXPECT_EQ(keys[0].kind, Key::kChar);
  EXPECT_EQ(keys[0].text, "9");
  EXPECT_EQ(keys[1].kind, Key::kEnter);
  EXPECT_EQ(keys[2].kind, Key::kBackspace);
  EXPECT_EQ(keys[3].kind, Key::kOther);
  EXPECT_EQ(keys[4].text, "é");
  EXPECT_TRUE(rest.empty());

  keys = ParseKeys("a\x1b", false, &rest);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(rest, "\x1b");
  keys = ParseKeys(rest, true, &rest);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].kind, Key::kEscape);
}

// --- Words -------------------------------------------------------------------

TEST(WordsTest, DescribeStateIsOnePlainLine) {
  v1::ClassState state = RunningState();
  state.mutable_timer()->set_remaining_ms(45000);
  EXPECT_EQ(DescribeState(state),
            "[RUNNING] #3/23 Banded kickback (glute max) set 1/2 left, 8-10 "
            "reps (45 s)");
  state.set_phase(v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(DescribeState(state), "[ENDED] class over");
  EXPECT_EQ(FormatClock(42000), "00:42");
  EXPECT_EQ(FormatClock(41001), "00:42");
  EXPECT_EQ(FormatClock(600000), "10:00");
  EXPECT_EQ(FormatClock(-5), "00:00");
}

// --- Kiosk -------------------------------------------------------------------

TEST(KioskViewTest, ShowsExerciseSideCountdownTargetNextAndWall) {
  const Frame frame = KioskView(KioskMirror(), Live(), kNow, 100, 30);
  ExpectFits(frame, 100, 30);
  const std::string text = Join(frame);
  EXPECT_THAT(text, HasSubstr("Kickback trio"));
  EXPECT_THAT(text, HasSubstr("BANDED KICKBACK (GLUTE MAX) — LEFT"));
  EXPECT_THAT(text, HasSubstr("set 1/2"));
  EXPECT_TRUE(ShowsBigText(frame, "00:42")) << text;
  EXPECT_THAT(text, HasSubstr("Target 8-10 reps"));
  EXPECT_THAT(text, HasSubstr("Next: Rest 15 s"));
  EXPECT_THAT(text, HasSubstr("1/3 done · 57 reps"));
  EXPECT_THAT(text, HasSubstr("✓ Dana 18"));
  EXPECT_THAT(text, HasSubstr("Ari 12"));
  EXPECT_THAT(text, HasSubstr("Squeeze at the top"));
  EXPECT_TRUE(frame.IsHighlighted(0));
}

TEST(KioskViewTest, CountdownFollowsTheServerClock) {
  const ClassMirror mirror = KioskMirror();
  EXPECT_TRUE(
      ShowsBigText(KioskView(mirror, Live(), kNow + 2000, 100, 30), "00:40"));
  EXPECT_TRUE(
      ShowsBigText(KioskView(mirror, Live(), kNow + 60000, 100, 30), "00:00"));
}

TEST(KioskViewTest, SmallTerminalsDropTheBigDigitsButKeepTheClock) {
  const Frame frame = KioskView(KioskMirror(), Live(), kNow, 39, 19);
  ExpectFits(frame, 39, 19);
  const std::string text = Join(frame);
  EXPECT_THAT(text, Not(HasSubstr("██████")));
  EXPECT_THAT(text, HasSubstr("00:42"));
}

TEST(KioskViewTest, EverySizeFits) {
  for (const ClassMirror& mirror : {KioskMirror(), InstructorMirror()}) {
    for (int width : kWidths) {
      for (int height : kHeights) {
        ExpectFits(KioskView(mirror, Live(), kNow, width, height), width,
                   height);
      }
    }
  }
  ExpectFits(KioskView(ClassMirror(), Live(), kNow, 80, 24), 80, 24);
}

TEST(KioskViewTest, NeverShowsEffortOrSymptomsEvenWhenTheMirrorHasThem) {
  // An instructor's mirror carries effort, symptoms, alerts and
  // suggestions; the kiosk view must draw none of it.
  const ClassMirror mirror = InstructorMirror();
  for (int height : {30, 60}) {
    const std::string text = Join(KioskView(mirror, Live(), kNow, 120, height));
    for (const char* secret :
         {"too hard", "CR-10", "hip pinch", "leaking", "symptom", "Symptom",
          "effort", "Effort", "Hip shift drill", "PRIORITY", "Sam"}) {
      EXPECT_THAT(text, Not(HasSubstr(secret))) << secret;
    }
  }
}

TEST(KioskViewTest, LobbyShowsTheJoinCodeAndTheEndShowsTheTotal) {
  v1::KioskSnapshot s;
  FillCommon(&s);
  s.mutable_state()->clear_current();
  s.mutable_state()->set_phase(v1::CLASS_PHASE_LOBBY);
  ClassMirror mirror;
  mirror.Apply(s);
  std::string text = Join(KioskView(mirror, Live(), kNow, 80, 24));
  EXPECT_THAT(text, HasSubstr("WAITING TO START"));
  EXPECT_THAT(text, HasSubstr("HAV9DZ"));

  s.mutable_state()->set_phase(v1::CLASS_PHASE_ENDED);
  mirror.Apply(s);
  text = Join(KioskView(mirror, Live(), kNow, 80, 24));
  EXPECT_THAT(text, HasSubstr("Class complete — 57 reps"));
}

// --- Instructor --------------------------------------------------------------

TEST(InstructorViewTest, ShowsBlockRosterAggregatesAlertsAndSuggestions) {
  const Frame frame =
      InstructorView(InstructorMirror(), Live(), kNow, InstructorUi(), 100, 30);
  ExpectFits(frame, 100, 30);
  const std::string text = Join(frame);
  EXPECT_THAT(text, HasSubstr("RUNNING · connected"));
  EXPECT_THAT(text, HasSubstr("Banded kickback (glute max) · set 1/2 · left"));
  EXPECT_THAT(text, HasSubstr("00:42"));
  EXPECT_THAT(text, HasSubstr("Next: Rest 15 s"));
  EXPECT_THAT(text, HasSubstr("Done 1/2"));
  EXPECT_THAT(text, HasSubstr("hard 1"));
  EXPECT_THAT(text, HasSubstr("median CR-10 7.0"));
  EXPECT_THAT(text, HasSubstr("Dana"));
  EXPECT_THAT(text, HasSubstr("too hard · CR-10 7"));
  EXPECT_THAT(text, HasSubstr("! hip pinch"));
  EXPECT_THAT(text, HasSubstr("dropped"));
  EXPECT_THAT(text, HasSubstr("left"));
  EXPECT_THAT(text, HasSubstr("!! PRIORITY Dana reported leaking"));
  EXPECT_THAT(text, HasSubstr("Hip shift drill (drill)"));
  EXPECT_THAT(text, HasSubstr("a accepts"));
  EXPECT_THAT(frame.lines.back(), HasSubstr("q quit"));
}

TEST(InstructorViewTest, PromptsAndLinkStateShow) {
  InstructorUi ui;
  ui.prompt = InstructorUi::Prompt::kCue;
  ui.input = "Breathe out";
  SessionStatus reconnecting;
  reconnecting.link = LinkState::kReconnecting;
  std::string text =
      Join(InstructorView(InstructorMirror(), reconnecting, kNow, ui, 100, 30));
  EXPECT_THAT(text, HasSubstr("Cue: Breathe out_"));
  EXPECT_THAT(text, HasSubstr("reconnecting…"));
  ui.prompt = InstructorUi::Prompt::kNone;
  ui.status_line = "start failed: the class already started";
  text = Join(InstructorView(InstructorMirror(), Live(), kNow, ui, 100, 30));
  EXPECT_THAT(text, HasSubstr("start failed: the class already started"));
}

TEST(InstructorViewTest, ProgressTakesTheRosterPlaceAndEscGoesBack) {
  InstructorUi ui;
  ui.prompt = InstructorUi::Prompt::kProgress;
  ui.progress = {"Progress of Dana (stage: Foundations)",
                 "  reps per class   ▁▄█  20 -> 31"};
  ui.status_line = "1 of 2 who keep a profile";
  Frame frame = InstructorView(InstructorMirror(), Live(), kNow, ui, 100, 30);
  std::string text = Join(frame);
  EXPECT_THAT(text, HasSubstr("Progress of Dana (stage: Foundations)"));
  EXPECT_THAT(text, HasSubstr("20 -> 31"));
  EXPECT_THAT(text, HasSubstr("1 of 2 who keep a profile"));
  EXPECT_THAT(text, Not(HasSubstr("Effort")));  // no roster header
  EXPECT_THAT(frame.lines.back(), HasSubstr("Esc back to the class"));
  ui.prompt = InstructorUi::Prompt::kNone;
  frame = InstructorView(InstructorMirror(), Live(), kNow, ui, 100, 30);
  EXPECT_THAT(Join(frame), Not(HasSubstr("Progress of Dana")));
  EXPECT_THAT(frame.lines.back(), HasSubstr("g progress"));
}

TEST(InstructorViewTest, EverySizeFits) {
  InstructorUi ui;
  ui.status_line = std::string(300, 'x');
  for (int width : kWidths) {
    for (int height : kHeights) {
      ExpectFits(
          InstructorView(InstructorMirror(), Live(), kNow, ui, width, height),
          width, height);
      InstructorUi progress = ui;
      progress.prompt = InstructorUi::Prompt::kProgress;
      progress.progress.assign(40, std::string(200, 'y'));
      ExpectFits(InstructorView(InstructorMirror(), Live(), kNow, progress,
                                width, height),
                 width, height);
    }
  }
  ExpectFits(InstructorView(ClassMirror(), SessionStatus(), kNow, ui, 80, 24),
             80, 24);
}

// --- Participant -------------------------------------------------------------

TEST(ParticipantViewTest, ShowsIntervalCountdownProgressAndSuggestions) {
  ParticipantUi ui;
  ui.last_ack = "recorded 9 reps";
  ui.input = "1";
  const Frame frame =
      ParticipantView(ParticipantMirror(), Live(), kNow, ui, 90, 30);
  ExpectFits(frame, 90, 30);
  const std::string text = Join(frame);
  EXPECT_THAT(text, HasSubstr("BANDED KICKBACK (GLUTE MAX) — LEFT · set 1/2"));
  EXPECT_THAT(text, HasSubstr("Target 8-10 reps"));
  EXPECT_TRUE(ShowsBigText(frame, "00:42"));
  EXPECT_THAT(text, HasSubstr("Time left 00:42"));
  EXPECT_THAT(text, HasSubstr("Squeeze at the top"));
  EXPECT_THAT(text, HasSubstr("Class: 1/3 done · 57 reps"));
  EXPECT_THAT(text, HasSubstr("You: 18 reps · last effort just right"));
  EXPECT_THAT(text, HasSubstr("coach agrees: Hip shift drill"));
  EXPECT_THAT(text, HasSubstr("Last: recorded 9 reps"));
  EXPECT_THAT(text, HasSubstr("Reps: 1_"));
}

// The exercise on now, with a note for each track and (for the thrust
// test) parts.
v1::Exercise KickbackWithNotes() {
  v1::Exercise e;
  e.set_id("kickback-glute-max");
  e.set_name("Banded kickback (glute max)");
  v1::TrackOption* cesarean = e.add_track_options();
  cesarean->set_track(v1::RECOVERY_TRACK_CESAREAN);
  cesarean->set_note("Stand more upright if you see doming.");
  cesarean->set_alternative_exercise_id("glute-bridge");
  v1::TrackOption* vaginal = e.add_track_options();
  vaginal->set_track(v1::RECOVERY_TRACK_VAGINAL);
  vaginal->set_note("Breathe out on each kick.");
  return e;
}

v1::Suggestion PlanItem(const std::string& id, v1::SuggestionKind kind) {
  v1::Suggestion s;
  s.set_suggestion_id(absl::StrCat("plan-", kind));
  s.set_participant_id(id);
  s.set_kind(kind);
  s.set_from_history(true);
  s.set_reason("last two classes: left 20% behind right");
  s.set_start_side(v1::SIDE_LEFT);
  s.set_suggested_stage_name("Loading");
  return s;
}

TEST(ParticipantViewTest, ShowsHerTrackNoteTheSafetyLineAndHerPlan) {
  v1::ParticipantSnapshot s;
  FillCommon(&s);
  s.set_participant_id("p-1");
  s.mutable_check_in()->set_display_name("Dana");
  s.mutable_check_in()->set_track(v1::RECOVERY_TRACK_CESAREAN);
  *s.add_exercises() = KickbackWithNotes();
  v1::Exercise* bridge = s.add_exercises();
  bridge->set_id("glute-bridge");
  bridge->set_name("Glute bridge");
  *s.add_suggestions() = PlanItem("p-1", v1::SUGGESTION_KIND_WEAKER_SIDE_FIRST);
  ClassMirror mirror;
  mirror.Apply(s);
  const Frame frame =
      ParticipantView(mirror, Live(), kNow, ParticipantUi(), 120, 40);
  ExpectFits(frame, 120, 40);
  const std::string text = Join(frame);
  EXPECT_THAT(text,
              HasSubstr("For you: Stand more upright if you see doming. "
                        "Or instead, if your coach agrees: Glute bridge."));
  EXPECT_THAT(text, Not(HasSubstr("Breathe out on each kick")));
  EXPECT_THAT(text, HasSubstr(kSafetyLine));
  EXPECT_THAT(text, HasSubstr("Your plan today:"));
  EXPECT_THAT(text, HasSubstr("waiting for the coach: weaker side first, start "
                              "left: last two classes: left 20% behind right"));
  EXPECT_THAT(text, Not(HasSubstr("From your coach:")));
}

TEST(ParticipantViewTest, ACombinationSetAsksForEachPart) {
  v1::ParticipantSnapshot s;
  FillCommon(&s);
  v1::Exercise e = KickbackWithNotes();
  for (const char* name : {"Full range", "Partial range"}) {
    v1::ExercisePart* part = e.add_parts();
    part->set_id(name);
    part->set_name(name);
    part->set_unit(v1::PART_UNIT_REPS);
  }
  v1::ExercisePart* hold = e.add_parts();
  hold->set_id("hold");
  hold->set_name("Hold");
  hold->set_unit(v1::PART_UNIT_SECONDS);
  *s.add_exercises() = e;
  ClassMirror mirror;
  mirror.Apply(s);
  ParticipantUi ui;
  ui.input = "8 6";
  const std::string text =
      Join(ParticipantView(mirror, Live(), kNow, ui, 120, 40));
  EXPECT_THAT(text, HasSubstr("Full range, Partial range, Hold (s): 8 6_  (3 "
                              "numbers with spaces, Enter logs them)"));
  // No track, no note; the safety line all the same.
  EXPECT_THAT(text, Not(HasSubstr("For you:")));
  EXPECT_THAT(text, HasSubstr(kSafetyLine));
}

TEST(InstructorViewTest, ShowsEveryTrackNoteAndThePlansBeforeTheStart) {
  v1::InstructorSnapshot s;
  FillCommon(&s);
  // In the lobby, with the kickback first.
  v1::Interval first = s.state().current();
  s.mutable_state()->clear_current();
  s.mutable_state()->set_phase(v1::CLASS_PHASE_LOBBY);
  *s.mutable_state()->mutable_next() = first;
  *s.add_roster() = Entry("p-1", "Dana", v1::CONNECTION_STATE_CONNECTED, 0);
  *s.add_exercises() = KickbackWithNotes();
  *s.add_suggestions() = PlanItem("p-1", v1::SUGGESTION_KIND_NEXT_STAGE);
  ClassMirror mirror;
  mirror.Apply(s);
  const Frame frame =
      InstructorView(mirror, Live(), kNow, InstructorUi(), 120, 40);
  ExpectFits(frame, 120, 40);
  const std::string text = Join(frame);
  EXPECT_THAT(text,
              HasSubstr("cesarean: Stand more upright if you see doming."));
  EXPECT_THAT(text, HasSubstr("vaginal: Breathe out on each kick."));
  EXPECT_THAT(text, HasSubstr("Plans for today (from past classes):"));
  EXPECT_THAT(text, HasSubstr("Dana: next stage: Loading: last two classes"));
  EXPECT_THAT(text, HasSubstr("[undecided]"));
}

TEST(ParticipantViewTest, ReconnectingKeepsReportsAndMenusShow) {
  ParticipantUi ui;
  ui.pending_reports = 2;
  ui.mode = ParticipantUi::Mode::kSymptomMenu;
  SessionStatus reconnecting;
  reconnecting.link = LinkState::kReconnecting;
  const std::string text = Join(
      ParticipantView(ParticipantMirror(), reconnecting, kNow, ui, 90, 30));
  EXPECT_THAT(text,
              HasSubstr("reconnecting… your reports are kept (2 waiting)"));
  EXPECT_THAT(text, HasSubstr("1 hip pinch"));
  EXPECT_THAT(text, HasSubstr("7 other"));
}

TEST(ParticipantViewTest, EverySizeFits) {
  ParticipantUi ui;
  ui.last_ack = "not recorded: " + std::string(200, 'y');
  for (int width : kWidths) {
    for (int height : kHeights) {
      for (auto mode :
           {ParticipantUi::Mode::kNormal, ParticipantUi::Mode::kSymptomMenu}) {
        ui.mode = mode;
        ExpectFits(ParticipantView(ParticipantMirror(), Live(), kNow, ui, width,
                                   height),
                   width, height);
      }
    }
  }
}

// --- Plain-mode commands -----------------------------------------------------

TEST(PlainCommandsTest, ParticipantLines) {
  ParticipantCommand c = ParseParticipantCommand("reps 9");
  EXPECT_EQ(c.kind, ParticipantCommand::kReps);
  EXPECT_EQ(c.number, 9);
  c = ParseParticipantCommand("effort hard");
  EXPECT_EQ(c.kind, ParticipantCommand::kFeel);
  EXPECT_EQ(c.feel, v1::EFFORT_FEEL_TOO_HARD);
  c = ParseParticipantCommand("effort 7");
  EXPECT_EQ(c.kind, ParticipantCommand::kCr10);
  EXPECT_EQ(c.number, 7);
  c = ParseParticipantCommand("symptom hip_pinch");
  EXPECT_EQ(c.kind, ParticipantCommand::kSymptom);
  EXPECT_EQ(c.symptom, v1::SYMPTOM_HIP_PINCH);
  c = ParseParticipantCommand("symptom other sore knee");
  EXPECT_EQ(c.symptom, v1::SYMPTOM_OTHER);
  EXPECT_EQ(c.text, "sore knee");
  EXPECT_EQ(ParseParticipantCommand("symptom other").kind,
            ParticipantCommand::kInvalid);
  EXPECT_EQ(ParseParticipantCommand("symptom sneezing").kind,
            ParticipantCommand::kInvalid);
  EXPECT_EQ(ParseParticipantCommand("reps nine").kind,
            ParticipantCommand::kInvalid);
  EXPECT_EQ(ParseParticipantCommand("leave").kind, ParticipantCommand::kLeave);
}

TEST(PlainCommandsTest, InstructorLines) {
  v1::InstructorCommand command;
  std::string error;
  ASSERT_TRUE(ParseInstructorCommand("plus30", &command, &error));
  EXPECT_EQ(command.adjust_time().delta_ms(), 30000);
  ASSERT_TRUE(ParseInstructorCommand("cue Squeeze now", &command, &error));
  EXPECT_EQ(command.cue().text(), "Squeeze now");
  EXPECT_FALSE(ParseInstructorCommand("jump", &command, &error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace circuit::client::tui
