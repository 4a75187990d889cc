#include "client/tui/views.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/tui/big_digits.h"
#include "client/tui/text.h"

namespace circuit::client::tui {
namespace {

// A run of lines a view may drop as a whole when the terminal is short.
struct Section {
  std::vector<std::string> lines;
  // Higher survives longer; ties drop the lower section first.
  int priority = 0;
  bool highlighted = false;
};

Section Lines(std::vector<std::string> lines, int priority,
              bool highlighted = false) {
  return Section{std::move(lines), priority, highlighted};
}
Section Blank() { return Section{{""}, 0, false}; }

// Stacks `top` from the first row and `bottom` against the last, dropping
// the lowest-priority sections of `top` until both fit; every line fitted
// to `width`.
Frame Compose(std::vector<Section> top, std::vector<Section> bottom, int width,
              int height) {
  auto count = [](const std::vector<Section>& sections) {
    int n = 0;
    for (const Section& s : sections) n += static_cast<int>(s.lines.size());
    return n;
  };
  const int bottom_rows = std::min(count(bottom), height);
  while (!top.empty() && count(top) + bottom_rows > height) {
    auto lowest = top.end() - 1;
    for (auto it = top.end(); it != top.begin();) {
      --it;
      if (it->priority < lowest->priority) lowest = it;
    }
    top.erase(lowest);
  }
  Frame frame;
  auto add = [&](const Section& s) {
    for (const std::string& line : s.lines) {
      if (static_cast<int>(frame.lines.size()) >= height) return;
      if (s.highlighted) {
        frame.highlighted.push_back(static_cast<int>(frame.lines.size()));
      }
      frame.lines.push_back(Fit(line, width));
    }
  };
  for (const Section& s : top) add(s);
  const int top_rows = static_cast<int>(frame.lines.size());
  for (int i = top_rows; i < height - bottom_rows; ++i) {
    frame.lines.push_back(Fit("", width));
  }
  for (const Section& s : bottom) add(s);
  return frame;
}

std::string Upper(const std::string& text) {
  return absl::AsciiStrToUpper(text);
}

// "PAUSED · reconnecting…" for the right end of a title bar.
std::string BarRight(const ClassMirror& mirror, const SessionStatus& status) {
  if (!mirror.has_snapshot()) return LinkText(status.link);
  return absl::StrCat(PhaseName(mirror.state().phase()), " · ",
                      LinkText(status.link));
}

std::string Title(const ClassMirror& mirror) {
  if (!mirror.has_snapshot()) return "Circuit";
  return mirror.class_info().title().empty() ? mirror.circuit().name()
                                             : mirror.class_info().title();
}

bool IsRest(const v1::Interval& interval) {
  return interval.kind() == v1::INTERVAL_KIND_REST;
}

bool Timed(const v1::ClassState& state) {
  return state.has_current() && state.current().duration_ms() > 0;
}

// The countdown as one line: "00:42", "00:42 paused", "coach moves on".
std::string ClockText(const ClassMirror& mirror, int64_t now) {
  const v1::ClassState& state = mirror.state();
  if (!Timed(state)) return "no timer: the coach moves on";
  std::string text = FormatClock(mirror.RemainingMs(now));
  if (state.phase() == v1::CLASS_PHASE_PAUSED)
    absl::StrAppend(&text, " paused");
  return text;
}

std::string ProgressBar(int done, int total, int width) {
  if (width < 3) return "";
  const int inner = width - 2;
  const int filled =
      total > 0 ? std::min(inner, inner * std::max(done, 0) / total) : 0;
  std::string bar = "[";
  for (int i = 0; i < inner; ++i) bar += i < filled ? "█" : "░";
  return bar + "]";
}

std::string LatestCue(const ClassMirror& mirror) {
  if (mirror.recent_cues().empty()) return "";
  return absl::StrCat("“", mirror.recent_cues().back().text(), "”");
}

std::string NameOf(const ClassMirror& mirror, const std::string& id) {
  for (const v1::RosterEntry& entry : mirror.roster()) {
    if (entry.participant_id() == id) return entry.check_in().display_name();
  }
  return id;
}

// Names and reps in columns, row by row, in at most `rows` rows.
std::vector<std::string> WallLines(const v1::ClassProgress& progress, int width,
                                   int rows) {
  std::vector<std::string> cells;
  int cell_width = 0;
  for (const v1::WallEntry& entry : progress.wall()) {
    cells.push_back(absl::StrCat(entry.done_current() ? "✓ " : "  ",
                                 Clip(entry.display_name(), 20), " ",
                                 entry.total_reps()));
    cell_width = std::max(cell_width, DisplayWidth(cells.back()) + 3);
  }
  std::vector<std::string> lines;
  if (cells.empty() || rows <= 0) return lines;
  cell_width = std::min(cell_width, width);
  const int columns = std::max(1, width / std::max(cell_width, 1));
  const int capacity = columns * rows;
  if (static_cast<int>(cells.size()) > capacity) {
    const int hidden = static_cast<int>(cells.size()) - (capacity - 1);
    cells.resize(capacity - 1);
    cells.push_back(absl::StrCat("  +", hidden, " more"));
  }
  for (size_t i = 0; i < cells.size(); i += columns) {
    std::string line;
    for (size_t j = i; j < std::min(cells.size(), i + columns); ++j) {
      line += Fit(cells[j], cell_width);
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

// --- Words -------------------------------------------------------------------

std::string FormatClock(int64_t ms) {
  const int64_t seconds = (std::max<int64_t>(ms, 0) + 999) / 1000;
  return absl::StrFormat("%02d:%02d", seconds / 60, seconds % 60);
}

std::string PhaseName(v1::ClassPhase phase) {
  switch (phase) {
    case v1::CLASS_PHASE_LOBBY:
      return "LOBBY";
    case v1::CLASS_PHASE_RUNNING:
      return "RUNNING";
    case v1::CLASS_PHASE_PAUSED:
      return "PAUSED";
    case v1::CLASS_PHASE_ENDED:
      return "ENDED";
    default:
      return "UNKNOWN";
  }
}

std::string SideName(v1::Side side) {
  switch (side) {
    case v1::SIDE_LEFT:
      return "left";
    case v1::SIDE_RIGHT:
      return "right";
    default:
      return "";
  }
}

std::string RepsText(const v1::RepRange& range) {
  if (range.max_reps() <= 0) return "";
  if (range.min_reps() == range.max_reps() || range.min_reps() <= 0) {
    return absl::StrCat(range.max_reps(), " reps");
  }
  return absl::StrCat(range.min_reps(), "-", range.max_reps(), " reps");
}

std::string SymptomName(v1::Symptom symptom) {
  switch (symptom) {
    case v1::SYMPTOM_HIP_PINCH:
      return "hip pinch";
    case v1::SYMPTOM_LEAKING:
      return "leaking";
    case v1::SYMPTOM_PELVIC_HEAVINESS:
      return "pelvic heaviness";
    case v1::SYMPTOM_LOW_BACK_PAIN:
      return "low back pain";
    case v1::SYMPTOM_PELVIC_PAIN:
      return "pelvic pain";
    case v1::SYMPTOM_ABDOMINAL_DOMING:
      return "abdominal doming";
    case v1::SYMPTOM_OTHER:
      return "other";
    default:
      return "symptom";
  }
}

std::string FeelName(v1::EffortFeel feel) {
  switch (feel) {
    case v1::EFFORT_FEEL_TOO_EASY:
      return "too easy";
    case v1::EFFORT_FEEL_JUST_RIGHT:
      return "just right";
    case v1::EFFORT_FEEL_TOO_HARD:
      return "too hard";
    default:
      return "";
  }
}

std::string ConnectionName(v1::ConnectionState state) {
  switch (state) {
    case v1::CONNECTION_STATE_CONNECTED:
      return "connected";
    case v1::CONNECTION_STATE_DROPPED:
      return "dropped";
    case v1::CONNECTION_STATE_LEFT:
      return "left";
    default:
      return "?";
  }
}

std::string SuggestionKindName(v1::SuggestionKind kind) {
  switch (kind) {
    case v1::SUGGESTION_KIND_DRILL:
      return "drill";
    case v1::SUGGESTION_KIND_REGRESSION:
      return "easier version";
    case v1::SUGGESTION_KIND_PROGRESSION:
      return "harder version";
    case v1::SUGGESTION_KIND_LOWER_LOAD:
      return "lower load";
    case v1::SUGGESTION_KIND_WEAKER_SIDE_FIRST:
      return "weaker side first";
    case v1::SUGGESTION_KIND_NEXT_STAGE:
      return "next stage";
    default:
      return "suggestion";
  }
}

std::string DecisionName(v1::SuggestionDecision decision) {
  switch (decision) {
    case v1::SUGGESTION_DECISION_ACCEPTED:
      return "accepted";
    case v1::SUGGESTION_DECISION_DISMISSED:
      return "dismissed";
    default:
      return "undecided";
  }
}

std::string LinkText(LinkState link) {
  switch (link) {
    case LinkState::kConnecting:
      return "connecting…";
    case LinkState::kLive:
      return "connected";
    case LinkState::kReconnecting:
      return "reconnecting…";
    case LinkState::kClosed:
      return "closed";
    case LinkState::kFailed:
      return "failed";
  }
  return "";
}

std::string EffortText(const v1::ParticipantProgress& progress) {
  std::string text = FeelName(progress.last_feel());
  if (progress.has_last_cr10()) {
    absl::StrAppend(&text, text.empty() ? "" : " · ", "CR-10 ",
                    progress.last_cr10());
  }
  return text;
}

std::string IntervalText(const v1::Interval& interval) {
  if (IsRest(interval)) {
    return interval.duration_ms() > 0
               ? absl::StrCat("Rest ", (interval.duration_ms() + 999) / 1000,
                              " s")
               : "Rest";
  }
  std::string text = interval.exercise_name();
  if (interval.set_count() > 0) {
    absl::StrAppend(&text, " · set ", interval.set(), "/",
                    interval.set_count());
  }
  if (!SideName(interval.side()).empty()) {
    absl::StrAppend(&text, " · ", SideName(interval.side()));
  }
  if (interval.has_target_reps()) {
    absl::StrAppend(&text, " · ", RepsText(interval.target_reps()));
  }
  return text;
}

std::string DescribeState(const v1::ClassState& state) {
  const std::string phase = absl::StrCat("[", PhaseName(state.phase()), "]");
  if (state.phase() == v1::CLASS_PHASE_ENDED) {
    return absl::StrCat(phase, " class over");
  }
  if (!state.has_current()) {
    if (state.has_next()) {
      return absl::StrCat(
          phase, " waiting to start; first: ", IntervalText(state.next()));
    }
    return absl::StrCat(phase, " waiting to start");
  }
  const v1::Interval& i = state.current();
  std::string what;
  if (IsRest(i)) {
    what = "rest";
  } else {
    what =
        absl::StrCat(i.exercise_name(), " set ", i.set(), "/", i.set_count());
    if (!SideName(i.side()).empty())
      absl::StrAppend(&what, " ", SideName(i.side()));
    if (i.has_target_reps()) {
      absl::StrAppend(&what, ", ", RepsText(i.target_reps()));
    }
  }
  std::string line = absl::StrCat(phase, " #", i.index() + 1, "/",
                                  state.interval_count(), " ", what);
  if (i.duration_ms() > 0) {
    absl::StrAppend(&line, " (", (state.timer().remaining_ms() + 999) / 1000,
                    " s)");
  }
  return line;
}

std::string SuggestionText(const v1::Suggestion& suggestion) {
  std::string what =
      suggestion.suggested_exercise_name().empty()
          ? SuggestionKindName(suggestion.kind())
          : absl::StrCat(suggestion.suggested_exercise_name(), " (",
                         SuggestionKindName(suggestion.kind()), ")");
  if (suggestion.kind() == v1::SUGGESTION_KIND_NEXT_STAGE &&
      !suggestion.suggested_stage_name().empty()) {
    what = absl::StrCat("next stage: ", suggestion.suggested_stage_name());
  }
  if (suggestion.kind() == v1::SUGGESTION_KIND_WEAKER_SIDE_FIRST &&
      !SideName(suggestion.start_side()).empty()) {
    absl::StrAppend(&what, ", start ", SideName(suggestion.start_side()));
  }
  if (suggestion.reason().empty()) return what;
  return absl::StrCat(what, ": ", suggestion.reason());
}

const char kDisclaimer[] =
    "Suggestions only; your coach decides; this is not medical advice.";
const char kSafetyLine[] =
    "Stop and tell the coach if you notice leaking, heaviness or pressure.";

std::string TrackNoteText(const ClassMirror& mirror,
                          const v1::Exercise& exercise,
                          v1::RecoveryTrack track) {
  if (track == v1::RECOVERY_TRACK_UNSPECIFIED) return "";
  for (const v1::TrackOption& option : exercise.track_options()) {
    if (option.track() != track) continue;
    std::string text = option.note();
    if (!option.alternative_exercise_id().empty()) {
      const v1::Exercise* instead =
          mirror.FindExercise(option.alternative_exercise_id());
      absl::StrAppend(&text, text.empty() ? "" : " ",
                      "Or instead, if your coach agrees: ",
                      instead == nullptr ? option.alternative_exercise_id()
                                         : instead->name(),
                      ".");
    }
    return text;
  }
  return "";
}

std::vector<std::string> AllTrackNotes(const ClassMirror& mirror,
                                       const v1::Exercise& exercise) {
  std::vector<std::string> lines;
  for (const v1::TrackOption& option : exercise.track_options()) {
    const std::string note = TrackNoteText(mirror, exercise, option.track());
    if (note.empty()) continue;
    lines.push_back(absl::StrCat(option.track() == v1::RECOVERY_TRACK_CESAREAN
                                     ? "cesarean: "
                                     : "vaginal: ",
                                 note));
  }
  return lines;
}

std::vector<std::string> PlanLines(const ClassMirror& mirror) {
  std::vector<std::string> lines;
  for (const v1::Suggestion& s : mirror.suggestions()) {
    if (!s.from_history()) continue;
    lines.push_back(absl::StrCat(NameOf(mirror, s.participant_id()), ": ",
                                 SuggestionText(s), " [",
                                 DecisionName(s.decision()), "]"));
  }
  return lines;
}

// --- Instructor --------------------------------------------------------------

// The status line and the keys, at the foot of every console frame.
std::vector<Section> InstructorBottom(const InstructorUi& ui,
                                      const SessionStatus& status) {
  std::vector<Section> bottom;
  std::string status_line = ui.status_line;
  if (ui.prompt == InstructorUi::Prompt::kCue) {
    status_line =
        absl::StrCat("Cue: ", ui.input, "_   (Enter sends, Esc cancels)");
  } else if (ui.prompt == InstructorUi::Prompt::kConfirmEnd) {
    status_line = "End the class for everyone? y/n";
  } else if (ui.prompt == InstructorUi::Prompt::kPairKiosk) {
    status_line = absl::StrCat("Pairing code on the TV: ", ui.input,
                               "_   (Enter pairs, Esc cancels)");
  } else if (status.link == LinkState::kReconnecting) {
    status_line = absl::StrCat("reconnecting… ", status.error.message(),
                               status_line.empty() ? "" : " · ", status_line);
  }
  bottom.push_back(Lines({status_line}, 100));
  if (ui.prompt == InstructorUi::Prompt::kProgress) {
    bottom.push_back(
        Lines({"Tab next participant  Esc back to the class"}, 100, true));
  } else {
    bottom.push_back(Lines({"s start  p pause  n next  b back  +/- 30s  c cue  "
                            "a/d decide  g progress  k pair TV  e end  q quit"},
                           100, true));
  }
  return bottom;
}

Frame InstructorView(const ClassMirror& mirror, const SessionStatus& status,
                     int64_t server_now_ms, const InstructorUi& ui, int width,
                     int height) {
  std::vector<Section> top;
  const v1::ClassInfo& info = mirror.class_info();
  top.push_back(
      Lines({Spread(absl::StrCat(Title(mirror), " · code ", info.join_code()),
                    BarRight(mirror, status), width)},
            100, true));
  if (!mirror.has_snapshot()) {
    top.push_back(Lines(
        {absl::StrCat(
            "Connecting to the class… ",
            status.error.ok() ? "" : std::string(status.error.message()))},
        90));
  } else {
    const v1::ClassState& state = mirror.state();
    std::string now;
    std::string clock;
    if (state.phase() == v1::CLASS_PHASE_ENDED) {
      now = absl::StrCat("Class ended · ", mirror.progress().total_reps(),
                         " reps in all");
    } else if (!state.has_current()) {
      now = "Lobby: press s to start";
    } else {
      now = absl::StrCat("Now #", state.current().index() + 1, "/",
                         state.interval_count(), " ",
                         IntervalText(state.current()));
      clock = ClockText(mirror, server_now_ms);
    }
    top.push_back(Lines({Spread(now, clock, width)}, 90));
    if (state.has_next() && state.phase() != v1::CLASS_PHASE_ENDED) {
      top.push_back(
          Lines({absl::StrCat(state.has_current() ? "Next: " : "First: ",
                              IntervalText(state.next()))},
                60));
    }
    top.push_back(Lines({absl::StrCat("Cue: ", LatestCue(mirror))}, 40));
    // Every track's note for the exercise on now (first, in the lobby).
    const v1::Interval& shown =
        state.has_current() ? state.current() : state.next();
    if (const v1::Exercise* exercise = mirror.FindExercise(shown.exercise_id());
        exercise != nullptr && state.phase() != v1::CLASS_PHASE_ENDED) {
      std::vector<std::string> notes = AllTrackNotes(mirror, *exercise);
      if (!notes.empty()) {
        for (std::string& note : notes) note = absl::StrCat("  ", note);
        notes.insert(notes.begin(), "Track notes:");
        top.push_back(Lines(notes, 35));
      }
    }
    // Before the start: each participant's plan for today, from her past
    // classes (a/d decide the newest undecided, as for any suggestion).
    if (!state.has_current() && state.phase() != v1::CLASS_PHASE_ENDED) {
      std::vector<std::string> plans = PlanLines(mirror);
      if (!plans.empty()) {
        for (std::string& line : plans) line = absl::StrCat("  ", line);
        plans.insert(plans.begin(), "Plans for today (from past classes):");
        top.push_back(Lines(plans, 68));
      }
    }
    if (ui.prompt == InstructorUi::Prompt::kProgress) {
      // Her weeks instead of the live middle (the class still runs above).
      top.push_back(Lines(ui.progress, 85));
      return Compose(std::move(top), InstructorBottom(ui, status), width,
                     height);
    }
    const v1::ClassAggregates& a = mirror.aggregates();
    std::string figures = absl::StrCat(
        "Done ", a.done_current_count(), "/",
        a.connected_count() + a.dropped_count(), " · easy ", a.too_easy_count(),
        " · right ", a.just_right_count(), " · hard ", a.too_hard_count());
    if (a.has_median_cr10()) {
      absl::StrAppend(&figures, " · median CR-10 ",
                      absl::StrFormat("%.1f", a.median_cr10()));
    }
    absl::StrAppend(&figures, " · ", a.connected_count(), " connected · ",
                    a.dropped_count(), " dropped · ",
                    mirror.progress().total_reps(), " reps");
    top.push_back(Lines({figures}, 80));

    // The middle: roster, alerts, undecided suggestions.
    std::vector<const v1::Suggestion*> undecided;
    for (auto it = mirror.suggestions().rbegin();
         it != mirror.suggestions().rend(); ++it) {
      if (it->decision() == v1::SUGGESTION_DECISION_UNSPECIFIED) {
        undecided.push_back(&*it);
      }
    }
    const int fixed = static_cast<int>(top.size()) + 2;
    int middle = std::max(0, height - fixed);
    int suggestion_rows =
        undecided.empty()
            ? 0
            : 1 + std::min<int>(static_cast<int>(undecided.size()), 3);
    int alert_rows =
        mirror.alerts().empty()
            ? 0
            : 1 + std::min<int>(static_cast<int>(mirror.alerts().size()), 4);
    // The roster keeps at least its header and three rows when it can.
    const int roster_want =
        1 + std::max<int>(1, static_cast<int>(mirror.roster().size()));
    while (suggestion_rows + alert_rows + std::min(roster_want, 4) > middle &&
           (suggestion_rows > 2 || alert_rows > 2)) {
      if (alert_rows > 2) {
        --alert_rows;
      } else {
        --suggestion_rows;
      }
    }
    const int roster_rows = std::max(0, middle - suggestion_rows - alert_rows);

    const int name_width = std::clamp(width / 4, 8, 24);
    std::vector<std::string> roster;
    roster.push_back(absl::StrCat(Fit("Name", name_width), Fit("Conn", 11),
                                  Fit("  Reps", 7), Fit("Done", 6),
                                  Fit("Effort", 22), "Symptoms"));
    const int shown_max = roster_rows - 1;
    const int total = static_cast<int>(mirror.roster().size());
    if (total == 0) roster.push_back("  nobody has joined yet");
    for (int i = 0; i < total; ++i) {
      if (shown_max <= 0) break;
      if (i == shown_max - 1 && total > shown_max) {
        roster.push_back(absl::StrCat("  … and ", total - i, " more"));
        break;
      }
      const v1::RosterEntry& e = mirror.roster()[i];
      std::string symptoms;
      if (e.progress().symptoms_size() > 0) {
        symptoms = absl::StrCat("! ", SymptomName(e.progress().symptoms(
                                          e.progress().symptoms_size() - 1)));
        if (e.progress().symptoms_size() > 1) {
          absl::StrAppend(&symptoms, " (", e.progress().symptoms_size(), ")");
        }
      }
      roster.push_back(absl::StrCat(
          Fit(Clip(e.check_in().display_name(), name_width - 1), name_width),
          Fit(ConnectionName(e.connection()), 11),
          absl::StrFormat("%6d ", e.progress().total_reps()),
          Fit(e.done_current() ? "  ✓" : "", 6),
          Fit(Clip(EffortText(e.progress()), 21), 22), symptoms));
    }
    if (roster_rows > 0) {
      roster.resize(
          std::min<int>(static_cast<int>(roster.size()), roster_rows));
      top.push_back(Lines(roster, 70));
    }
    if (alert_rows > 0) {
      std::vector<std::string> alerts = {
          absl::StrCat("Alerts (", mirror.alerts().size(), ", newest first)")};
      for (auto it = mirror.alerts().rbegin();
           it != mirror.alerts().rend() &&
           static_cast<int>(alerts.size()) < alert_rows;
           ++it) {
        const bool priority = it->severity() == v1::ALERT_SEVERITY_PRIORITY;
        alerts.push_back(
            absl::StrCat(priority ? "!! PRIORITY "
                         : it->severity() == v1::ALERT_SEVERITY_WARNING ? " ! "
                                                                        : "   ",
                         it->text().empty() ? it->display_name() : it->text()));
      }
      top.push_back(Lines(alerts, 75));
    }
    if (suggestion_rows > 0) {
      std::vector<std::string> lines = {
          absl::StrCat("Suggestions to decide (", undecided.size(),
                       "): a accepts, d dismisses the newest")};
      for (size_t i = 0; i < undecided.size() &&
                         static_cast<int>(lines.size()) < suggestion_rows;
           ++i) {
        lines.push_back(
            absl::StrCat(i == 0 ? " > " : "   ",
                         NameOf(mirror, undecided[i]->participant_id()), ": ",
                         SuggestionText(*undecided[i])));
      }
      top.push_back(Lines(lines, 72));
    }
  }

  return Compose(std::move(top), InstructorBottom(ui, status), width, height);
}

// --- Participant -------------------------------------------------------------

Frame ParticipantView(const ClassMirror& mirror, const SessionStatus& status,
                      int64_t server_now_ms, const ParticipantUi& ui, int width,
                      int height) {
  std::vector<Section> top;
  std::vector<Section> bottom;
  std::string who = mirror.check_in().display_name();
  top.push_back(
      Lines({Spread(who.empty() ? Title(mirror)
                                : absl::StrCat(Title(mirror), " · ", who),
                    BarRight(mirror, status), width)},
            100, true));
  if (!mirror.has_snapshot()) {
    top.push_back(Lines({"Joining the class…"}, 90));
  } else {
    const v1::ClassState& state = mirror.state();
    if (state.phase() == v1::CLASS_PHASE_ENDED) {
      top.push_back(
          Lines({absl::StrCat("Class complete · well done! You did ",
                              mirror.own_progress().total_reps(), " reps")},
                95));
    } else if (!state.has_current()) {
      top.push_back(Lines({"Waiting for the coach to start"}, 95));
      if (state.has_next()) {
        top.push_back(
            Lines({absl::StrCat("First: ", IntervalText(state.next()))}, 60));
      }
    } else {
      const v1::Interval& i = state.current();
      if (IsRest(i)) {
        top.push_back(Lines({"REST"}, 95));
      } else {
        std::string what = Upper(i.exercise_name());
        if (!SideName(i.side()).empty()) {
          absl::StrAppend(&what, " — ", Upper(SideName(i.side())));
        }
        absl::StrAppend(&what, " · set ", i.set(), "/", i.set_count());
        top.push_back(Lines({what}, 95));
        if (i.has_target_reps()) {
          top.push_back(
              Lines({absl::StrCat("Target ", RepsText(i.target_reps()))}, 85));
        }
      }
      const std::string clock = FormatClock(mirror.RemainingMs(server_now_ms));
      if (Timed(state) && height >= 24 && width >= 40) {
        std::vector<std::string> big;
        for (const std::string& row : BigText(clock)) {
          big.push_back(absl::StrCat("  ", row));
        }
        if (state.phase() == v1::CLASS_PHASE_PAUSED) big.push_back("  paused");
        top.push_back(Lines(big, 50));
        top.push_back(Lines(
            {absl::StrCat("Time left ", ClockText(mirror, server_now_ms))},
            88));
      } else {
        top.push_back(Lines(
            {absl::StrCat("Time left ", ClockText(mirror, server_now_ms))},
            88));
      }
      if (state.has_next()) {
        top.push_back(
            Lines({absl::StrCat("Next: ", IntervalText(state.next()))}, 60));
      }
    }
    std::vector<std::string> cues;
    const auto& recent = mirror.recent_cues();
    for (size_t k = 0; k < recent.size() && k < 2; ++k) {
      cues.push_back(absl::StrCat(k == 0 ? "Cue: “" : "     “",
                                  recent[recent.size() - 1 - k].text(), "”"));
    }
    if (!cues.empty()) top.push_back(Lines(cues, 45));
    const v1::ClassProgress& p = mirror.progress();
    top.push_back(Lines({absl::StrCat("Class: ", p.done_current_count(), "/",
                                      p.participant_count(), " done · ",
                                      p.total_reps(), " reps")},
                        65));
    const v1::ParticipantProgress& own = mirror.own_progress();
    std::string effort = EffortText(own);
    top.push_back(
        Lines({absl::StrCat("You: ", own.total_reps(), " reps",
                            effort.empty() ? "" : " · last effort ", effort)},
              80));
    // The note for her track with the exercise on now (or first), and the
    // safety line everyone gets.
    if (state.phase() != v1::CLASS_PHASE_ENDED) {
      const v1::Interval& shown =
          state.has_current() ? state.current() : state.next();
      const v1::Exercise* exercise = mirror.FindExercise(shown.exercise_id());
      const std::string note =
          exercise == nullptr
              ? ""
              : TrackNoteText(mirror, *exercise, mirror.check_in().track());
      if (!note.empty()) {
        top.push_back(Lines({absl::StrCat("For you: ", note)}, 78));
      }
      top.push_back(Lines({kSafetyLine}, 84));
    }
    auto decision_of = [](const v1::Suggestion& s) {
      return s.decision() == v1::SUGGESTION_DECISION_ACCEPTED ? "coach agrees: "
             : s.decision() == v1::SUGGESTION_DECISION_DISMISSED
                 ? "coach set it aside: "
                 : "waiting for the coach: ";
    };
    std::vector<std::string> plan = {"Your plan today:"};
    for (const v1::Suggestion& s : mirror.suggestions()) {
      if (s.from_history() && plan.size() < 5) {
        plan.push_back(absl::StrCat("  ", decision_of(s), SuggestionText(s)));
      }
    }
    if (plan.size() > 1) top.push_back(Lines(plan, 72));
    bool live_suggestions = false;
    for (const v1::Suggestion& s : mirror.suggestions()) {
      live_suggestions = live_suggestions || !s.from_history();
    }
    if (live_suggestions) {
      std::vector<std::string> lines = {"From your coach:"};
      for (auto it = mirror.suggestions().rbegin();
           it != mirror.suggestions().rend() && lines.size() < 4; ++it) {
        if (it->from_history()) continue;
        const std::string decision =
            it->decision() == v1::SUGGESTION_DECISION_ACCEPTED
                ? "coach agrees: "
            : it->decision() == v1::SUGGESTION_DECISION_DISMISSED
                ? "coach says carry on: "
                : "waiting for the coach: ";
        lines.push_back(absl::StrCat("  ", decision, SuggestionText(*it)));
      }
      top.push_back(Lines(lines, 70));
    }
  }
  if (!ui.last_ack.empty()) {
    bottom.push_back(Lines({absl::StrCat("Last: ", ui.last_ack)}, 100));
  }
  if (status.link == LinkState::kReconnecting ||
      status.link == LinkState::kConnecting) {
    std::string line = status.link == LinkState::kReconnecting
                           ? "reconnecting… your reports are kept"
                           : "connecting…";
    if (ui.pending_reports > 0) {
      absl::StrAppend(&line, " (", ui.pending_reports, " waiting)");
    }
    bottom.push_back(Lines({line}, 100));
  }
  if (!ui.status_line.empty()) bottom.push_back(Lines({ui.status_line}, 100));
  switch (ui.mode) {
    case ParticipantUi::Mode::kNormal: {
      // A combination set (the 8-8-8 hip thrust) takes a number per part.
      const v1::Exercise* exercise =
          mirror.has_snapshot() && mirror.state().has_current()
              ? mirror.FindExercise(mirror.state().current().exercise_id())
              : nullptr;
      std::vector<std::string> parts;
      if (exercise != nullptr) {
        for (const v1::ExercisePart& part : exercise->parts()) {
          parts.push_back(absl::StrCat(
              part.name(), part.unit() == v1::PART_UNIT_SECONDS ? " (s)" : ""));
        }
      }
      bottom.push_back(
          Lines({parts.empty()
                     ? absl::StrCat("Reps: ", ui.input,
                                    "_  (type a number, Enter logs it)")
                     : absl::StrCat(absl::StrJoin(parts, ", "), ": ", ui.input,
                                    "_  (", parts.size(),
                                    " numbers with spaces, Enter logs them)")},
                100));
      bottom.push_back(Lines(
          {"0-9 Enter reps  e too easy  j just right  h too hard  y symptom  "
           "l leave  q quit"},
          100, true));
      break;
    }
    case ParticipantUi::Mode::kSymptomMenu:
      bottom.push_back(
          Lines({"Symptom: 1 hip pinch · 2 leaking · 3 pelvic heaviness · "
                 "4 low back pain",
                 "         5 pelvic pain · 6 abdominal doming · 7 other"},
                100));
      bottom.push_back(Lines({"1-7 choose  Esc cancel"}, 100, true));
      break;
    case ParticipantUi::Mode::kSymptomText:
      bottom.push_back(
          Lines({absl::StrCat("Describe it: ", ui.input, "_")}, 100));
      bottom.push_back(Lines({"Enter sends  Esc cancels"}, 100, true));
      break;
    case ParticipantUi::Mode::kConfirmLeave:
      bottom.push_back(Lines({"Leave the class for good? y/n"}, 100));
      bottom.push_back(Lines({"y leave  n stay"}, 100, true));
      break;
  }
  return Compose(std::move(top), std::move(bottom), width, height);
}

// --- Kiosk -------------------------------------------------------------------

Frame KioskView(const ClassMirror& mirror, const SessionStatus& status,
                int64_t server_now_ms, int width, int height) {
  std::vector<Section> top;
  top.push_back(Lines({Spread(Title(mirror), BarRight(mirror, status), width)},
                      100, true));
  if (!mirror.has_snapshot()) {
    top.push_back(Lines({Center("Connecting…", width)}, 90));
    return Compose(std::move(top), {}, width, height);
  }
  const bool big = height >= 20 && width >= 40;
  const v1::ClassState& state = mirror.state();
  const v1::ClassProgress& p = mirror.progress();
  top.push_back(Blank());
  if (state.phase() == v1::CLASS_PHASE_ENDED) {
    top.push_back(Lines(
        {Center(absl::StrCat("Class complete — ", p.total_reps(), " reps"),
                width)},
        95));
  } else if (!state.has_current()) {
    top.push_back(Lines({Center("WAITING TO START", width)}, 95));
    top.push_back(Lines({Center(absl::StrCat("Join with code ",
                                             mirror.class_info().join_code()),
                                width)},
                        90));
    if (state.has_next()) {
      top.push_back(Lines(
          {Center(absl::StrCat("First: ", IntervalText(state.next())), width)},
          60));
    }
  } else {
    const v1::Interval& i = state.current();
    std::string what;
    if (IsRest(i)) {
      what = "REST";
    } else {
      what = Upper(i.exercise_name());
      if (!SideName(i.side()).empty()) {
        absl::StrAppend(&what, " — ", Upper(SideName(i.side())));
      }
      absl::StrAppend(&what, "   set ", i.set(), "/", i.set_count());
    }
    top.push_back(Lines({Center(what, width)}, 95));
    top.push_back(Blank());
    const std::string clock = FormatClock(mirror.RemainingMs(server_now_ms));
    if (Timed(state) && big && BigTextWidth(clock) <= width) {
      std::vector<std::string> rows;
      for (const std::string& row : BigText(clock)) {
        rows.push_back(Center(row, width));
      }
      top.push_back(Lines(rows, 92));
      if (state.phase() == v1::CLASS_PHASE_PAUSED) {
        top.push_back(Lines({Center("PAUSED", width)}, 91));
      }
    } else {
      top.push_back(
          Lines({Center(ClockText(mirror, server_now_ms), width)}, 92));
    }
    top.push_back(Blank());
    if (i.has_target_reps()) {
      top.push_back(Lines(
          {Center(absl::StrCat("Target ", RepsText(i.target_reps())), width)},
          85));
    }
    if (state.has_next()) {
      top.push_back(Lines(
          {Center(absl::StrCat("Next: ", IntervalText(state.next())), width)},
          70));
    }
  }
  top.push_back(Blank());
  const std::string counts =
      state.has_current()
          ? absl::StrCat(" ", p.done_current_count(), "/",
                         p.participant_count(), " done · ", p.total_reps(),
                         " reps")
          : absl::StrCat(" ", p.participant_count(), " checked in");
  const int bar_width = std::min(40, width - DisplayWidth(counts) - 2);
  if (state.phase() != v1::CLASS_PHASE_ENDED) {
    top.push_back(
        Lines({absl::StrCat(" ",
                            ProgressBar(p.done_current_count(),
                                        p.participant_count(), bar_width),
                            counts)},
              80));
  }
  if (!mirror.recent_cues().empty()) {
    top.push_back(Lines({Center(LatestCue(mirror), width)}, 75));
  }
  if (status.link == LinkState::kReconnecting) {
    top.push_back(Lines({Center("reconnecting…", width)}, 96));
  }
  // The wall takes what is left.
  int used = 0;
  for (const Section& s : top) used += static_cast<int>(s.lines.size());
  const int wall_rows = height - used - 1;
  if (wall_rows >= 1 && p.wall_size() > 0) {
    top.push_back(Blank());
    std::vector<std::string> wall = WallLines(p, width - 1, wall_rows);
    for (std::string& line : wall) line = " " + line;
    top.push_back(Lines(wall, 10));
  }
  return Compose(std::move(top), {}, width, height);
}

}  // namespace circuit::client::tui
