#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/lib/live_session.h"
#include "client/lib/profiles.h"
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
ABSL_FLAG(int, weeks, -1,
          "join: weeks since giving birth (optional); demo: classes in a row, "
          "a simulated week apart (1 to 12), with kept profiles and plans");
ABSL_FLAG(std::string, equipment, "",
          "join: the equipment or band you have, e.g. \"medium band\"");
ABSL_FLAG(bool, keep_profile, false,
          "join: join with your kept profile (the credential in "
          "--profile_file), or start one there when there is none");

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
  const std::string profile_file = ProfileFile();
  SessionOptions session_options;
  if (absl::GetFlag(FLAGS_keep_profile)) {
    if (profile_file.empty()) {
      return BadFlag("--keep_profile needs --profile_file (no $HOME)");
    }
    // The saved profile when there is one, else a new one.
    session_options.profile_credential = ReadProfileCredential(profile_file);
    session_options.keep_profile = session_options.profile_credential.empty();
  }
  // With a kept profile the name comes from it.
  if (args.size() != 1 || (absl::GetFlag(FLAGS_name).empty() &&
                           session_options.profile_credential.empty())) {
    return Usage(
        "join CODE --name=NAME [--show_name] [--track=vaginal|cesarean] "
        "[--weeks=N] [--equipment=E] [--keep_profile] [--profile_file=F]");
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
  v1::Joined joined;
  const int code = RunParticipantApp(MakeAppOptions(), args[0], check_in,
                                     session_options, &joined);
  if (!joined.profile_credential().empty()) {
    absl::Status saved =
        SaveProfileCredential(profile_file, joined.profile_credential());
    if (saved.ok()) {
      std::fprintf(stderr,
                   "circuit: your profile is kept; its credential is in %s "
                   "(`circuit profile erase` removes everything)\n",
                   profile_file.c_str());
    } else {
      std::fprintf(stderr, "circuit: cannot save your profile credential: %s\n",
                   std::string(saved.message()).c_str());
    }
  }
  // After class: her progress over the weeks, as sparklines.
  const std::string credential = joined.profile_credential().empty()
                                     ? session_options.profile_credential
                                     : joined.profile_credential();
  if (!joined.profile_id().empty() && !credential.empty() &&
      !absl::GetFlag(FLAGS_json)) {
    absl::StatusOr<v1::Progress> progress =
        GetProgress(*Connect(), credential, v1::GetProgressRequest());
    if (progress.ok()) {
      std::fputs(FormatProgress(*progress).c_str(), stdout);
    }
  }
  return code;
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
       "[--weeks=N] [--equipment=E] [--keep_profile] [--profile_file=F]",
       "Joins the class with join code CODE as a participant. With\n"
       "--keep_profile, keeps a profile across classes: its credential is\n"
       "saved in --profile_file, later joins use it (the name, track and\n"
       "weeks come from it), your plan for today is made from your past\n"
       "classes, and your progress is printed after class.",
       {"name", "show_name", "track", "weeks", "equipment", "keep_profile",
        "profile_file", "plain", "json", "exit_at_end"},
       Join},
  };
}

}  // namespace circuit::client::cli
