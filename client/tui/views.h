#ifndef CIRCUIT_CLIENT_TUI_VIEWS_H_
#define CIRCUIT_CLIENT_TUI_VIEWS_H_

// The screens of the three live views, as pure functions of the class
// mirror, the session's status, the server's clock and the terminal size,
// plus the words every view (and the plain-line mode) uses. No I/O here.

#include <cstdint>
#include <string>
#include <vector>

#include "circuit/v1/service.pb.h"
#include "client/lib/class_mirror.h"
#include "client/lib/live_session.h"
#include "client/tui/screen.h"

namespace circuit::client::tui {

// --- Words -------------------------------------------------------------------

// "mm:ss", rounding up so a countdown reads 00:01 until it is over.
std::string FormatClock(int64_t ms);
// "RUNNING", "PAUSED", ...
std::string PhaseName(v1::ClassPhase phase);
// "left", "right"; empty for both sides.
std::string SideName(v1::Side side);
// "8-10 reps"; empty when unset.
std::string RepsText(const v1::RepRange& range);
// "hip pinch", "leaking", ...
std::string SymptomName(v1::Symptom symptom);
// "too easy", "just right", "too hard"; empty when unspecified.
std::string FeelName(v1::EffortFeel feel);
// "connected", "dropped", "left".
std::string ConnectionName(v1::ConnectionState state);
// "drill", "easier version", "harder version", "lower load".
std::string SuggestionKindName(v1::SuggestionKind kind);
// "undecided", "accepted", "dismissed".
std::string DecisionName(v1::SuggestionDecision decision);
// "connected", "connecting…", "reconnecting…", "closed", "failed".
std::string LinkText(LinkState link);
// The latest effort as "too hard · CR-10 7"; empty when none.
std::string EffortText(const v1::ParticipantProgress& progress);

// One interval in words: "Kickback glute max · set 1/2 · left · 8-10 reps",
// or "Rest 15 s".
std::string IntervalText(const v1::Interval& interval);
// A state as one plain line:
// "[RUNNING] #3/23 Banded kickback (glute max) set 1/2 left, 8-10 reps (45 s)"
// with the time left at the message; "[LOBBY] first: ...", "[ENDED]".
std::string DescribeState(const v1::ClassState& state);
// A suggestion in words for its participant: "Hip shift drill (drill): why";
// a next stage names the stage, a weaker side first the side to start on.
std::string SuggestionText(const v1::Suggestion& suggestion);
// Said once when a participant joins (the phone page and `circuit join`).
extern const char kDisclaimer[];
// Said to every participant with every exercise.
extern const char kSafetyLine[];
// The exercise's note for `track` ("" when none or unspecified), with the
// exercise to do instead when the option names one.
std::string TrackNoteText(const ClassMirror& mirror,
                          const v1::Exercise& exercise,
                          v1::RecoveryTrack track);
// Every track's note of `exercise`, one line each: "cesarean: ..." (the
// instructor's view).
std::vector<std::string> AllTrackNotes(const ClassMirror& mirror,
                                       const v1::Exercise& exercise);
// A participant's plan items (from_history suggestions), one line each, for
// the instructor: "Ana: easier version Low-step curtsy: why [undecided]".
std::vector<std::string> PlanLines(const ClassMirror& mirror);

// --- Views -------------------------------------------------------------------

// What the instructor console is doing besides showing the class.
struct InstructorUi {
  enum class Prompt {
    kNone,
    kCue,         // typing a cue in `input`
    kConfirmEnd,  // waiting for y/n
    kPairKiosk,   // typing the pairing code a studio TV shows in `input`
    kProgress,    // showing `progress`, one participant's weeks
  };
  Prompt prompt = Prompt::kNone;
  std::string input;
  // With kProgress: her progress over past classes as lines (or why it
  // could not be fetched), shown instead of the roster.
  std::vector<std::string> progress;
  // The outcome of the latest command ("next: ok", "start failed: ...").
  std::string status_line;
};

// The instructor console: class, link, current block and countdown, what is
// next, aggregates, roster, alerts newest first, undecided suggestions, a
// status line and the keys.
Frame InstructorView(const ClassMirror& mirror, const SessionStatus& status,
                     int64_t server_now_ms, const InstructorUi& ui, int width,
                     int height);

// What the participant app is doing besides showing the class.
struct ParticipantUi {
  enum class Mode {
    kNormal,        // digits typed so far in `input`
    kSymptomMenu,   // choosing 1-7
    kSymptomText,   // describing "other" in `input`
    kConfirmLeave,  // waiting for y/n
  };
  Mode mode = Mode::kNormal;
  std::string input;
  // "recorded 9 reps", "not recorded: ...".
  std::string last_ack;
  // Reports not yet acknowledged.
  int pending_reports = 0;
  // A local problem ("type a number of reps first").
  std::string status_line;
};

// The participant app: the interval, a countdown on the server clock, cues,
// class and own progress, own suggestions with the coach's decision, the
// latest ack, the link, the input line and the keys.
Frame ParticipantView(const ClassMirror& mirror, const SessionStatus& status,
                      int64_t server_now_ms, const ParticipantUi& ui, int width,
                      int height);

// The kiosk: title, exercise and side, a big countdown (plain digits below
// 20 rows or 40 columns), target reps, what is next, a progress bar, the
// completion wall in columns, the latest cue. Never effort or symptoms.
Frame KioskView(const ClassMirror& mirror, const SessionStatus& status,
                int64_t server_now_ms, int width, int height);

}  // namespace circuit::client::tui

#endif  // CIRCUIT_CLIENT_TUI_VIEWS_H_
