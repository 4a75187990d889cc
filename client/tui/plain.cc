#include "client/tui/plain.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/lib/summary_format.h"
#include "client/tui/text.h"
#include "client/tui/views.h"
#include "google/protobuf/util/json_util.h"

namespace circuit::client::tui {

const char kParticipantCommandHelp[] =
    "commands: reps N | effort easy|right|hard|0-10 | symptom "
    "hip_pinch|leaking|pelvic_heaviness|low_back_pain|pelvic_pain|"
    "abdominal_doming|other TEXT | leave";

void PlainPrinter::Line(absl::string_view line) {
  std::string clean = Sanitize(line);
  absl::MutexLock lock(&mu_);
  std::fprintf(out_, "%s\n", clean.c_str());
  std::fflush(out_);
}

std::string JsonLine(const google::protobuf::Message& message) {
  return MessageJson(message);
}

void PlainPrinter::Json(const google::protobuf::Message& message) {
  const std::string json = JsonLine(message);
  absl::MutexLock lock(&mu_);
  std::fprintf(out_, "%s\n", json.c_str());
  std::fflush(out_);
}

std::string PlainPrinter::Name(const std::string& participant_id) {
  absl::MutexLock lock(&mu_);
  auto it = names_.find(participant_id);
  return it == names_.end() ? participant_id : it->second;
}

absl::StatusOr<std::string> PlainPrinter::SubmitDescribed(
    const std::string& what,
    const std::function<absl::StatusOr<std::string>()>& submit) {
  absl::MutexLock lock(&describe_mu_);
  absl::StatusOr<std::string> id = submit();
  if (id.ok()) descriptions_[*id] = what;
  return id;
}

void PlainPrinter::Snapshot(const v1::ClassInfo& info,
                            const v1::ClassState& state) {
  Line(absl::StrCat("class ", info.class_id(), " \"", info.title(),
                    "\", join code ", info.join_code()));
  State(state);
}

void PlainPrinter::State(const v1::ClassState& state) {
  Line(DescribeState(state));
}

void PlainPrinter::Cue(const v1::Cue& cue) {
  Line(absl::StrCat("cue: ", cue.text()));
}

void PlainPrinter::Progress(const v1::ClassProgress& progress) {
  {
    absl::MutexLock lock(&mu_);
    if (progress.done_current_count() == last_done_ &&
        progress.participant_count() == last_count_ &&
        progress.total_reps() == last_reps_) {
      return;
    }
    last_done_ = progress.done_current_count();
    last_count_ = progress.participant_count();
    last_reps_ = progress.total_reps();
  }
  std::string wall;
  for (const v1::WallEntry& w : progress.wall()) {
    absl::StrAppend(&wall, " ", w.display_name(), ":", w.total_reps(),
                    w.done_current() ? "✓" : "");
  }
  Line(absl::StrCat("progress: ", progress.done_current_count(), "/",
                    progress.participant_count(), " done, ",
                    progress.total_reps(), " reps", wall.empty() ? "" : " |",
                    wall));
}

void PlainPrinter::Event(const v1::ClassEvent& event) {
  switch (event.kind_case()) {
    case v1::ClassEvent::kState:
      State(event.state());
      break;
    case v1::ClassEvent::kCue:
      Cue(event.cue());
      break;
    case v1::ClassEvent::kParticipantJoined: {
      const v1::RosterEntry& entry = event.participant_joined();
      {
        absl::MutexLock lock(&mu_);
        names_[entry.participant_id()] = entry.check_in().display_name();
      }
      Line(absl::StrCat("joined: ", entry.check_in().display_name()));
      break;
    }
    case v1::ClassEvent::kConnection: {
      const auto& change = event.connection();
      Line(absl::StrCat(change.display_name(), ": ",
                        ConnectionName(change.connection())));
      break;
    }
    case v1::ClassEvent::kReport: {
      const v1::ReportRecorded& r = event.report();
      std::string what;
      if (r.has_completion()) {
        what = absl::StrCat(r.completion().reps(), " reps (block ",
                            r.completion().block_index() + 1, " set ",
                            r.completion().set(),
                            SideName(r.completion().side()).empty() ? "" : " ",
                            SideName(r.completion().side()), ")");
      } else if (r.has_effort()) {
        v1::ParticipantProgress p;
        p.set_last_feel(r.effort().feel());
        if (r.effort().has_cr10()) p.set_last_cr10(r.effort().cr10());
        what = absl::StrCat("effort ", EffortText(p));
      } else if (r.has_symptom()) {
        what = absl::StrCat("symptom ", SymptomName(r.symptom().symptom()),
                            r.symptom().other_text().empty() ? "" : ": ",
                            r.symptom().other_text());
      }
      Line(absl::StrCat("report: ", Name(r.participant_id()), ": ", what));
      break;
    }
    case v1::ClassEvent::kAlert: {
      const v1::Alert& a = event.alert();
      Line(absl::StrCat(
          "alert",
          a.severity() == v1::ALERT_SEVERITY_PRIORITY  ? " [PRIORITY]"
          : a.severity() == v1::ALERT_SEVERITY_WARNING ? " [warning]"
                                                       : "",
          ": ", a.display_name(), ": ", a.text()));
      break;
    }
    case v1::ClassEvent::kSuggestion: {
      const v1::Suggestion& s = event.suggestion();
      Line(absl::StrCat("suggestion for ", Name(s.participant_id()), ": ",
                        SuggestionText(s), " [", DecisionName(s.decision()),
                        "]"));
      break;
    }
    case v1::ClassEvent::KIND_NOT_SET:
      break;
  }
}

void PlainPrinter::Ack(const v1::ReportAck& ack) {
  std::string what;
  {
    absl::MutexLock lock(&describe_mu_);
    auto it = descriptions_.find(ack.report_id());
    if (it != descriptions_.end()) what = it->second;
  }
  if (ack.code() == 0) {
    Line(absl::StrCat("recorded ", ack.report_id(),
                      what.empty() ? "" : absl::StrCat(" (", what, ")"),
                      ack.duplicate() ? " again" : ""));
  } else {
    Line(absl::StrCat("not recorded: ", ack.message(),
                      what.empty() ? "" : absl::StrCat(" (", what, ")")));
  }
}

void PlainPrinter::Print(const v1::RunClassResponse& response) {
  switch (response.kind_case()) {
    case v1::RunClassResponse::kSnapshot: {
      const v1::InstructorSnapshot& s = response.snapshot();
      {
        absl::MutexLock lock(&mu_);
        for (const v1::RosterEntry& e : s.roster()) {
          names_[e.participant_id()] = e.check_in().display_name();
        }
      }
      Snapshot(s.class_info(), s.state());
      Line(absl::StrCat("roster: ", s.roster_size(), " checked in"));
      break;
    }
    case v1::RunClassResponse::kEvent:
      Event(response.event());
      break;
    case v1::RunClassResponse::kProgress:
      Progress(response.progress());
      break;
    case v1::RunClassResponse::kGoingAway:
      Line(absl::StrCat("server going away: ", response.going_away().reason()));
      break;
    case v1::RunClassResponse::kCommandResult:
      if (response.command_result().code() != 0) {
        Line(absl::StrCat("command failed: ",
                          response.command_result().message()));
      } else {
        Line(absl::StrCat("command ok: ",
                          response.command_result().command_id()));
      }
      break;
    default:
      break;
  }
}

void PlainPrinter::Print(const v1::JoinClassResponse& response) {
  switch (response.kind_case()) {
    case v1::JoinClassResponse::kJoined:
      Line(absl::StrCat("joined as ", response.joined().participant_id(),
                        " (class ", response.joined().class_id(), ")"));
      break;
    case v1::JoinClassResponse::kSnapshot: {
      absl::MutexLock lock(&mu_);
      names_[response.snapshot().participant_id()] =
          response.snapshot().check_in().display_name();
    }
      Snapshot(response.snapshot().class_info(), response.snapshot().state());
      break;
    case v1::JoinClassResponse::kEvent:
      Event(response.event());
      break;
    case v1::JoinClassResponse::kProgress:
      Progress(response.progress());
      break;
    case v1::JoinClassResponse::kGoingAway:
      Line(absl::StrCat("server going away: ", response.going_away().reason()));
      break;
    case v1::JoinClassResponse::kAck:
      Ack(response.ack());
      break;
    default:
      break;
  }
}

void PlainPrinter::Print(const v1::WatchClassResponse& response) {
  switch (response.kind_case()) {
    case v1::WatchClassResponse::kSnapshot:
      Snapshot(response.snapshot().class_info(), response.snapshot().state());
      Progress(response.snapshot().progress());
      break;
    case v1::WatchClassResponse::kEvent:
      Event(response.event());
      break;
    case v1::WatchClassResponse::kProgress:
      Progress(response.progress());
      break;
    case v1::WatchClassResponse::kGoingAway:
      Line(absl::StrCat("server going away: ", response.going_away().reason()));
      break;
    default:
      break;
  }
}

ParticipantCommand ParseParticipantCommand(absl::string_view line) {
  std::vector<std::string> words =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  ParticipantCommand command;
  if (words.empty()) {
    command.error = "empty line";
    return command;
  }
  const std::string verb = absl::AsciiStrToLower(words[0]);
  int number = 0;
  if (verb == "reps") {
    if (words.size() != 2 || !absl::SimpleAtoi(words[1], &number)) {
      command.error = "reps needs a number: reps 9";
      return command;
    }
    command.kind = ParticipantCommand::kReps;
    command.number = number;
  } else if (verb == "effort") {
    const std::string how =
        words.size() == 2 ? absl::AsciiStrToLower(words[1]) : "";
    if (how == "easy") {
      command.kind = ParticipantCommand::kFeel;
      command.feel = v1::EFFORT_FEEL_TOO_EASY;
    } else if (how == "right") {
      command.kind = ParticipantCommand::kFeel;
      command.feel = v1::EFFORT_FEEL_JUST_RIGHT;
    } else if (how == "hard") {
      command.kind = ParticipantCommand::kFeel;
      command.feel = v1::EFFORT_FEEL_TOO_HARD;
    } else if (absl::SimpleAtoi(how, &number)) {
      command.kind = ParticipantCommand::kCr10;
      command.number = number;
    } else {
      command.error = "effort is easy, right, hard or 0-10";
    }
  } else if (verb == "symptom") {
    if (words.size() < 2) {
      command.error = "symptom needs a name: symptom hip_pinch";
      return command;
    }
    std::string name =
        absl::StrReplaceAll(absl::AsciiStrToUpper(words[1]), {{"-", "_"}});
    v1::Symptom symptom = v1::SYMPTOM_UNSPECIFIED;
    if (!v1::Symptom_Parse("SYMPTOM_" + name, &symptom) ||
        symptom == v1::SYMPTOM_UNSPECIFIED) {
      command.error = absl::StrCat("unknown symptom \"", words[1], "\"");
      return command;
    }
    command.text = absl::StrJoin(words.begin() + 2, words.end(), " ");
    if (symptom == v1::SYMPTOM_OTHER && command.text.empty()) {
      command.error = "symptom other needs a description: symptom other TEXT";
      return command;
    }
    command.kind = ParticipantCommand::kSymptom;
    command.symptom = symptom;
  } else if (verb == "leave") {
    command.kind = ParticipantCommand::kLeave;
  } else {
    command.error = absl::StrCat("unknown command \"", words[0], "\"");
  }
  return command;
}

bool ParseInstructorCommand(absl::string_view line,
                            v1::InstructorCommand* command,
                            std::string* error) {
  std::vector<std::string> words =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  command->Clear();
  if (words.empty()) {
    *error = "empty line";
    return false;
  }
  const std::string verb = absl::AsciiStrToLower(words[0]);
  if (verb == "start") {
    command->mutable_start();
  } else if (verb == "pause") {
    command->mutable_pause();
  } else if (verb == "resume") {
    command->mutable_resume();
  } else if (verb == "next") {
    command->mutable_next();
  } else if (verb == "previous" || verb == "back") {
    command->mutable_previous();
  } else if (verb == "plus30" || verb == "+") {
    command->mutable_adjust_time()->set_delta_ms(30000);
  } else if (verb == "minus30" || verb == "-") {
    command->mutable_adjust_time()->set_delta_ms(-30000);
  } else if (verb == "end") {
    command->mutable_end();
  } else if (verb == "cue" && words.size() > 1) {
    command->mutable_cue()->set_text(
        absl::StrJoin(words.begin() + 1, words.end(), " "));
  } else {
    *error =
        "commands: start | pause | resume | next | previous | plus30 | "
        "minus30 | cue TEXT | end | progress NAME";
    return false;
  }
  return true;
}

}  // namespace circuit::client::tui
