#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/lib/live_session.h"
#include "client/tui/apps.h"
#include "client/tui/plain.h"
#include "client/tui/views.h"

ABSL_FLAG(std::string, command, "",
          "instruct: send one command and exit: start, pause, resume, next, "
          "previous, plus30, minus30, end, cue (with --text)");
ABSL_FLAG(std::string, text, "", "instruct --command=cue: the cue text");
ABSL_FLAG(bool, show_name, false,
          "join: show your name on the studio's kiosk screens");
ABSL_FLAG(std::string, track, "",
          "join: your recovery track: vaginal or cesarean (optional)");
ABSL_FLAG(int, weeks, -1, "join: weeks since giving birth (optional)");
ABSL_FLAG(std::string, equipment, "",
          "join: the equipment or band you have, e.g. \"medium band\"");

namespace circuit::client::cli {

namespace {

// Non-interactive instructor: attach, send one command, print its result.
int SendOneCommand(const std::string& class_id) {
  const std::string name = absl::GetFlag(FLAGS_command);
  v1::InstructorCommand command;
  std::string error;
  const std::string line =
      name == "cue" ? absl::StrCat("cue ", absl::GetFlag(FLAGS_text)) : name;
  if (name.find(' ') != std::string::npos ||
      !tui::ParseInstructorCommand(line, &command, &error)) {
    std::fprintf(stderr, "circuit: --command=%s: %s\n", name.c_str(),
                 error.c_str());
    return kExitUsage;
  }
  const absl::Duration timeout =
      absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  InstructorSession session(Connect(), Key("instructor"), class_id);
  session.Start();
  if (!session.WaitFor([](const ClassMirror& m) { return m.has_snapshot(); },
                       timeout)) {
    SessionStatus status = session.Status();
    return Fail(status.error.ok()
                    ? absl::DeadlineExceededError("no answer from circuitd")
                    : status.error);
  }
  absl::StatusOr<v1::CommandResult> result =
      session.SendAndWait(command, timeout);
  if (!result.ok()) {
    std::fprintf(stderr, "circuit: %s\n",
                 std::string(result.status().message()).c_str());
    return kExitFailure;
  }
  // The event a command produced arrives before its result.
  ClassMirror mirror = session.Mirror();
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*result);
    PrintJson(mirror.state());
  } else {
    std::printf("%s: ok  %s\n", name.c_str(),
                tui::DescribeState(mirror.state()).c_str());
  }
  return kExitOk;
}

int Instruct(const std::vector<char*>& args) {
  if (args.size() != 1) {
    return Usage(
        "instruct CLASS [--command=start|pause|resume|next|previous|plus30|"
        "minus30|end|cue --text=T]");
  }
  if (!absl::GetFlag(FLAGS_command).empty()) return SendOneCommand(args[0]);
  return RunInstructorConsole(MakeAppOptions(), Key("instructor"), args[0]);
}

int Join(const std::vector<char*>& args) {
  if (args.size() != 1 || absl::GetFlag(FLAGS_name).empty()) {
    return Usage(
        "join CODE --name=NAME [--show_name] [--track=vaginal|cesarean] "
        "[--weeks=N] [--equipment=E]");
  }
  v1::CheckIn check_in;
  check_in.set_display_name(absl::GetFlag(FLAGS_name));
  check_in.set_show_name_on_kiosk(absl::GetFlag(FLAGS_show_name));
  check_in.set_equipment(absl::GetFlag(FLAGS_equipment));
  if (absl::GetFlag(FLAGS_weeks) >= 0) {
    check_in.set_weeks_postpartum(absl::GetFlag(FLAGS_weeks));
  }
  const std::string track = absl::GetFlag(FLAGS_track);
  if (track == "vaginal") {
    check_in.set_track(v1::RECOVERY_TRACK_VAGINAL);
  } else if (track == "cesarean") {
    check_in.set_track(v1::RECOVERY_TRACK_CESAREAN);
  } else if (!track.empty()) {
    std::fprintf(stderr, "circuit: --track is vaginal or cesarean\n");
    return kExitUsage;
  }
  return RunParticipantApp(MakeAppOptions(), args[0], check_in);
}

}  // namespace

std::vector<Subcommand> LiveSubcommands() {
  return {
      {"instruct",
       {{"CLASS", "the instructor console (--command=... sends one command)"}},
       "instruct CLASS [--command=start|pause|resume|next|previous|plus30|"
       "minus30|end|cue --text=T]",
       "The instructor console for CLASS; with --command, sends that one\n"
       "command, prints its result and exits. Instructor key.",
       {"command", "text", "plain", "json", "exit_at_end"},
       Instruct},
      {"join",
       {{"CODE", "join a class as a participant (--name)"}},
       "join CODE --name=NAME [--show_name] [--track=vaginal|cesarean] "
       "[--weeks=N] [--equipment=E]",
       "Joins the class with join code CODE as a participant.",
       {"name", "show_name", "track", "weeks", "equipment", "plain", "json",
        "exit_at_end"},
       Join},
  };
}

}  // namespace circuit::client::cli
