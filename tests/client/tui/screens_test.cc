// The live views against the real binaries: circuitd on port 0, `circuit`
// in a tmux pane (a real terminal) or a pipe (plain lines), and the client
// library on the other side to drive the class and check what the server
// recorded. Waits poll the screen or the mirror until a deadline.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/lib/connection.h"
#include "client/lib/live_session.h"
#include "client/tui/big_digits.h"
#include "client/tui/views.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/http_harness.h"
#include "tests/testing/subprocess.h"

namespace circuit::client {
namespace {

using testing::BinaryPath;
using ::testing::HasSubstr;
using testing::MakeTempDir;
using ::testing::Not;
using testing::Subprocess;

constexpr char kInstructorKey[] = "tui-test-instructor-key";
constexpr char kKioskKey[] = "tui-test-kiosk-key";
constexpr char kTmux[] = "/usr/bin/tmux";
constexpr absl::Duration kTimeout = absl::Seconds(15);

// Runs a command to the end; its stdout.
std::string Run(const std::vector<std::string>& argv,
                int* exit_code = nullptr) {
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv);
  if (!process.ok()) return "";
  std::string out = process->ReadAll(absl::Now() + kTimeout);
  absl::StatusOr<int> code = process->Wait(absl::Now() + kTimeout);
  if (exit_code != nullptr) *exit_code = code.ok() ? *code : -1;
  return out;
}

std::string Quote(const std::string& arg) {
  return absl::StrCat("'", arg, "'");
}

// A private tmux server whose panes run `circuit`. The destructor kills it.
class Tmux {
 public:
  Tmux() {
    static std::atomic<int> counter{0};
    socket_ = absl::StrCat("circuit-tui-", getpid(), "-", counter++);
    config_ = MakeTempDir() + "/tmux.conf";
    FILE* f = fopen(config_.c_str(), "w");
    if (f != nullptr) {
      // The whole window is the pane.
      fputs("set -g status off\n", f);
      fclose(f);
    }
  }
  ~Tmux() { Run({kTmux, "-L", socket_, "kill-server"}); }

  bool Start(const std::string& name, const std::vector<std::string>& command,
             int width = 100, int height = 30) {
    std::vector<std::string> quoted;
    for (const std::string& arg : command) quoted.push_back(Quote(arg));
    int code = -1;
    // After the program, the pane's shell prints its exit status and keeps
    // the pane (and what the program left on it) until the server is killed.
    Run({kTmux, "-L", socket_, "-f", config_, "new-session", "-d", "-s", name,
         "-x", absl::StrCat(width), "-y", absl::StrCat(height),
         absl::StrCat(absl::StrJoin(quoted, " "),
                      "; echo \"[exit $?]\"; read unused")},
        &code);
    return code == 0;
  }

  std::string Capture(const std::string& name) {
    return Run({kTmux, "-L", socket_, "capture-pane", "-p", "-t", name});
  }

  // Each argument is a tmux key name ("Enter", "Space") or, with literal,
  // text typed as is.
  void Keys(const std::string& name, const std::vector<std::string>& keys,
            bool literal = false) {
    std::vector<std::string> argv = {kTmux,       "-L", socket_,
                                     "send-keys", "-t", name};
    if (literal) argv.push_back("-l");
    argv.insert(argv.end(), keys.begin(), keys.end());
    Run(argv);
  }

  // Polls the pane until `ready` holds over its text; the last text seen
  // goes to `*screen`.
  bool WaitForScreen(const std::string& name,
                     const std::function<bool(const std::string&)>& ready,
                     std::string* screen) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (true) {
      *screen = Capture(name);
      if (ready(*screen)) return true;
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(50));  // polling interval
    }
  }

  bool WaitForText(const std::string& name,
                   const std::vector<std::string>& texts, std::string* screen) {
    return WaitForScreen(
        name,
        [&](const std::string& s) {
          for (const std::string& t : texts) {
            if (!absl::StrContains(s, t)) return false;
          }
          return true;
        },
        screen);
  }

  // Waits for the pane's program to exit; its exit code.
  bool WaitForExit(const std::string& name, int* code) {
    std::string screen;
    if (!WaitForText(name, {"[exit "}, &screen)) return false;
    const size_t at = screen.find("[exit ") + 6;
    return absl::SimpleAtoi(screen.substr(at, screen.find(']', at) - at), code);
  }

 private:
  std::string socket_;
  std::string config_;
};

// True when the block-font countdown of some time from 0 to `max_seconds`
// is on the screen.
bool ShowsBigCountdown(const std::string& screen, int max_seconds) {
  std::vector<std::string> lines = absl::StrSplit(screen, '\n');
  for (int s = 0; s <= max_seconds; ++s) {
    const std::vector<std::string> rows =
        tui::BigText(tui::FormatClock(s * 1000));
    for (size_t start = 0; start + rows.size() <= lines.size(); ++start) {
      bool all = true;
      for (size_t r = 0; r < rows.size() && all; ++r) {
        all = absl::StrContains(lines[start + r], rows[r]);
      }
      if (all) return true;
    }
  }
  return false;
}

class ScreensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kTmux, X_OK), 0)
        << kTmux << " is missing: `make deps` installs tmux";
    unsetenv("TMUX");
    setenv("TERM", "xterm-256color", 0);
    auto circuitd = testing::StartCircuitd(
        {absl::StrCat("--instructor_key=", kInstructorKey),
         absl::StrCat("--kiosk_key=", kKioskKey)},
        absl::Now() + kTimeout);
    ASSERT_TRUE(circuitd.ok()) << circuitd.status();
    server_ = std::move(circuitd->process);
    address_ = circuitd->address;
    http_port_ = circuitd->http_port;
    ConnectOptions options;
    options.address = address_;
    connection_ = std::make_shared<Connection>(options);
    absl::StatusOr<v1::ClassInfo> info =
        connection_->CreateClass(kInstructorKey, "kickback-trio", "TUI test");
    ASSERT_TRUE(info.ok()) << info.status();
    info_ = *info;
  }

  // The server is killed (by Subprocess's destructor) rather than drained:
  // nothing here tests shutdown.
  void TearDown() override { server_.reset(); }

  std::vector<std::string> Circuit(std::vector<std::string> args) {
    args.insert(args.begin(), BinaryPath("circuit"));
    args.push_back("--address=" + address_);
    return args;
  }

  std::unique_ptr<InstructorSession> Instructor() {
    auto session = std::make_unique<InstructorSession>(
        connection_, kInstructorKey, info_.class_id());
    session->Start();
    EXPECT_TRUE(session->WaitForLink(LinkState::kLive, kTimeout));
    return session;
  }

  std::unique_ptr<ParticipantSession> Participant(
      const std::string& name, const SessionOptions& options = {},
      const v1::ClassInfo* info = nullptr) {
    v1::CheckIn check_in;
    check_in.set_display_name(name);
    check_in.set_show_name_on_kiosk(true);
    auto session = std::make_unique<ParticipantSession>(
        connection_, (info == nullptr ? info_ : *info).join_code(), check_in,
        options);
    session->Start();
    EXPECT_TRUE(session->WaitFor(
        [](const ClassMirror& m) { return m.has_snapshot(); }, kTimeout));
    return session;
  }

  void StartClass(InstructorSession* instructor) {
    v1::InstructorCommand start;
    start.mutable_start();
    auto result = instructor->SendAndWait(start, kTimeout);
    ASSERT_TRUE(result.ok()) << result.status();
  }

  // The current exercise, as the server says.
  std::string CurrentExercise() {
    auto got = connection_->GetClass(info_.class_id());
    return got.ok() ? got->state().current().exercise_name() : "";
  }

  std::unique_ptr<Subprocess> server_;
  std::string address_;
  int http_port_ = 0;
  std::shared_ptr<Connection> connection_;
  v1::ClassInfo info_;
  Tmux tmux_;
};

const v1::RosterEntry* Find(const ClassMirror& mirror,
                            const std::string& name) {
  for (const v1::RosterEntry& e : mirror.roster()) {
    if (e.check_in().display_name() == name) return &e;
  }
  return nullptr;
}

TEST_F(ScreensTest, KioskShowsExerciseCountdownTargetAndWall) {
  auto instructor = Instructor();
  auto dana = Participant("Dana");
  StartClass(instructor.get());
  ASSERT_TRUE(dana->WaitFor(
      [](const ClassMirror& m) { return m.state().has_current(); }, kTimeout));
  auto id = dana->ReportReps(9);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(instructor->WaitFor(
      [](const ClassMirror& m) { return m.progress().total_reps() == 9; },
      kTimeout));
  const std::string exercise = absl::AsciiStrToUpper(CurrentExercise());
  ASSERT_FALSE(exercise.empty());

  ASSERT_TRUE(tmux_.Start(
      "kiosk",
      Circuit({"kiosk", info_.class_id(), absl::StrCat("--key=", kKioskKey)})));
  std::string screen;
  EXPECT_TRUE(tmux_.WaitForScreen(
      "kiosk",
      [&](const std::string& s) {
        return absl::StrContains(s, exercise + " — LEFT") &&
               absl::StrContains(s, "Target 8-10 reps") &&
               absl::StrContains(s, "✓ Dana 9") &&
               absl::StrContains(s, "1/1 done · 9 reps") &&
               absl::StrContains(s, "Next: Rest") && ShowsBigCountdown(s, 45);
      },
      &screen))
      << screen;
  EXPECT_THAT(screen, Not(HasSubstr("circuit:")));

  tmux_.Keys("kiosk", {"q"});
  int code = -1;
  ASSERT_TRUE(tmux_.WaitForExit("kiosk", &code));
  EXPECT_EQ(code, 0);
}

TEST_F(ScreensTest, InstructorConsoleDrivesTheClass) {
  auto dana = Participant("Dana");
  KioskSession kiosk(connection_, kKioskKey, info_.class_id());
  kiosk.Start();
  ASSERT_TRUE(tmux_.Start("console",
                          Circuit({"instruct", info_.class_id(),
                                   absl::StrCat("--key=", kInstructorKey)})));
  std::string screen;
  ASSERT_TRUE(
      tmux_.WaitForText("console", {"LOBBY · connected", "Dana"}, &screen))
      << screen;

  // s starts the class.
  tmux_.Keys("console", {"s"});
  ASSERT_TRUE(kiosk.WaitFor(
      [](const ClassMirror& m) {
        return m.state().phase() == v1::CLASS_PHASE_RUNNING;
      },
      kTimeout));
  const std::string exercise = CurrentExercise();
  ASSERT_TRUE(tmux_.WaitForText(
      "console", {"RUNNING · connected", "Now #1/", exercise, "start: ok"},
      &screen))
      << screen;

  // A command the server refuses shows its message.
  tmux_.Keys("console", {"s"});
  ASSERT_TRUE(tmux_.WaitForText("console", {"start failed: "}, &screen))
      << screen;

  // + adds 30 seconds to the current interval.
  const int64_t deadline = kiosk.Mirror().state().timer().deadline_unix_ms();
  tmux_.Keys("console", {"+"});
  EXPECT_TRUE(kiosk.WaitFor(
      [&](const ClassMirror& m) {
        return m.state().current().index() == 0 &&
               m.state().timer().deadline_unix_ms() >= deadline + 29000;
      },
      kTimeout));

  // A suggestion for Dana, accepted with a.
  ASSERT_TRUE(dana->ReportEffort(v1::EFFORT_FEEL_TOO_HARD).ok());
  ASSERT_TRUE(tmux_.WaitForText("console",
                                {"Suggestions to decide", "too hard"}, &screen))
      << screen;
  tmux_.Keys("console", {"a"});
  EXPECT_TRUE(dana->WaitFor(
      [](const ClassMirror& m) {
        return !m.suggestions().empty() && m.suggestions().back().decision() ==
                                               v1::SUGGESTION_DECISION_ACCEPTED;
      },
      kTimeout));

  // c opens the cue prompt; Enter sends it to every screen.
  tmux_.Keys("console", {"c"});
  tmux_.Keys("console", {"Squeeze at the top"}, /*literal=*/true);
  ASSERT_TRUE(
      tmux_.WaitForText("console", {"Cue: Squeeze at the top_"}, &screen))
      << screen;
  tmux_.Keys("console", {"Enter"});
  EXPECT_TRUE(kiosk.WaitFor(
      [](const ClassMirror& m) {
        return !m.recent_cues().empty() &&
               m.recent_cues().back().text() == "Squeeze at the top";
      },
      kTimeout));
  EXPECT_TRUE(
      tmux_.WaitForText("console", {"Cue: “Squeeze at the top”"}, &screen))
      << screen;

  // n moves on.
  tmux_.Keys("console", {"n"});
  EXPECT_TRUE(kiosk.WaitFor(
      [](const ClassMirror& m) { return m.state().current().index() >= 1; },
      kTimeout));
  EXPECT_TRUE(tmux_.WaitForText("console", {"next: ok"}, &screen)) << screen;

  // e asks first; y ends the class.
  tmux_.Keys("console", {"e"});
  ASSERT_TRUE(tmux_.WaitForText("console", {"End the class for everyone? y/n"},
                                &screen))
      << screen;
  tmux_.Keys("console", {"y"});
  EXPECT_TRUE(
      kiosk.WaitFor([](const ClassMirror& m) { return m.ended(); }, kTimeout));
  EXPECT_TRUE(tmux_.WaitForText("console", {"ENDED"}, &screen)) << screen;

  tmux_.Keys("console", {"q"});
  int code = -1;
  ASSERT_TRUE(tmux_.WaitForExit("console", &code));
  EXPECT_EQ(code, 0);
  // The terminal is back: no alternate screen left over.
  screen = tmux_.Capture("console");
  EXPECT_THAT(screen, Not(HasSubstr("q quit")));
}

// g shows the weeks of whoever keeps a profile, one at a time, instead of
// the roster; Esc goes back to the class.
TEST_F(ScreensTest, InstructorConsoleShowsTheProgressOfWhoKeepsAProfile) {
  // Last week: Dana keeps a profile and does 9 reps.
  std::string credential;
  {
    SessionOptions keep;
    keep.keep_profile = true;
    auto dana = Participant("Dana", keep);
    auto instructor = Instructor();
    StartClass(instructor.get());
    // Her reps are for the block her phone shows: wait until it shows one.
    ASSERT_TRUE(dana->WaitFor(
        [](const ClassMirror& m) { return m.state().has_current(); },
        kTimeout));
    absl::StatusOr<std::string> reps = dana->ReportReps(9);
    ASSERT_TRUE(reps.ok()) << reps.status();
    absl::optional<v1::ReportAck> ack = dana->WaitForAck(*reps, kTimeout);
    ASSERT_TRUE(ack.has_value());
    ASSERT_EQ(ack->code(), 0) << ack->message();
    v1::InstructorCommand end;
    end.mutable_end();
    ASSERT_TRUE(instructor->SendAndWait(end, kTimeout).ok());
    credential = dana->Joined().profile_credential();
    ASSERT_FALSE(credential.empty());
  }

  // This week: Eve first, who keeps none.
  absl::StatusOr<v1::ClassInfo> week2 =
      connection_->CreateClass(kInstructorKey, "kickback-trio", "Week 2");
  ASSERT_TRUE(week2.ok()) << week2.status();
  auto eve = Participant("Eve", {}, &*week2);
  ASSERT_TRUE(tmux_.Start("console",
                          Circuit({"instruct", week2->class_id(),
                                   absl::StrCat("--key=", kInstructorKey)})));
  std::string screen;
  ASSERT_TRUE(tmux_.WaitForText("console", {"Eve", "g progress"}, &screen))
      << screen;
  tmux_.Keys("console", {"g"});
  ASSERT_TRUE(tmux_.WaitForText(
      "console", {"nobody in this class keeps a profile"}, &screen))
      << screen;

  SessionOptions kept;
  kept.profile_credential = credential;
  auto dana = Participant("Dana", kept, &*week2);
  ASSERT_TRUE(tmux_.WaitForText("console", {"Dana"}, &screen)) << screen;
  tmux_.Keys("console", {"g"});
  ASSERT_TRUE(tmux_.WaitForText("console",
                                {"Progress of Dana", "reps per class", "9 -> 9",
                                 "1 of 1 who keep a profile", "Esc back"},
                                &screen))
      << screen;
  EXPECT_THAT(screen, Not(HasSubstr("Eve")));  // her weeks, not the roster
  // Tab goes round the ones who keep a profile: Dana again.
  tmux_.Keys("console", {"Tab"});
  EXPECT_TRUE(tmux_.WaitForText("console", {"Progress of Dana"}, &screen))
      << screen;
  tmux_.Keys("console", {"Escape"});
  ASSERT_TRUE(tmux_.WaitForScreen(
      "console",
      [](const std::string& s) {
        return absl::StrContains(s, "Eve") && absl::StrContains(s, "q quit") &&
               !absl::StrContains(s, "Progress of");
      },
      &screen))
      << screen;
  tmux_.Keys("console", {"q"});
  int code = -1;
  ASSERT_TRUE(tmux_.WaitForExit("console", &code));
  EXPECT_EQ(code, 0);

  // The plain console: "progress NAME" prints the same lines.
  std::vector<std::string> quoted;
  for (const std::string& arg :
       Circuit({"instruct", week2->class_id(),
                absl::StrCat("--key=", kInstructorKey), "--plain"})) {
    quoted.push_back(Quote(arg));
  }
  auto plain = Subprocess::Start(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'progress Dana\\nprogress Eve\\nprogress Zoe\\n"
                    "end\\n' | ",
                    absl::StrJoin(quoted, " "))});
  ASSERT_TRUE(plain.ok()) << plain.status();
  absl::StatusOr<int> plain_code = plain->Wait(absl::Now() + kTimeout);
  const std::string output = plain->ReadAll(absl::Now() + kTimeout);
  ASSERT_TRUE(plain_code.ok()) << plain_code.status();
  EXPECT_EQ(*plain_code, 0) << output << plain->stderr_text();
  EXPECT_THAT(output, HasSubstr("Progress of Dana"));
  EXPECT_THAT(output, HasSubstr("9 -> 9"));
  EXPECT_THAT(output, HasSubstr("Eve keeps no profile"));
  EXPECT_THAT(output, HasSubstr("nobody called Zoe on the roster"));
}

// A studio TV's browser shows a pairing code; k in the console pairs it.
TEST_F(ScreensTest, InstructorConsolePairsAStudioTv) {
  const testing::Reply started = testing::Fetch(
      http_port_, testing::http::verb::post, "/v1/kioskPairings", "{}");
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string key = "\"pairingCode\":\"";
  const size_t at = started.body.find(key);
  ASSERT_NE(at, std::string::npos) << started.body;
  const std::string code = started.body.substr(at + key.size(), 6);

  ASSERT_TRUE(tmux_.Start("console",
                          Circuit({"instruct", info_.class_id(),
                                   absl::StrCat("--key=", kInstructorKey)})));
  std::string screen;
  ASSERT_TRUE(tmux_.WaitForText("console", {"k pair TV"}, &screen)) << screen;
  tmux_.Keys("console", {"k"});
  // Typed in lower case, as anyone would off a TV across the room.
  tmux_.Keys("console", {absl::AsciiStrToLower(code)}, /*literal=*/true);
  ASSERT_TRUE(tmux_.WaitForText(
      "console", {absl::StrCat("Pairing code on the TV: ", code, "_")},
      &screen))
      << screen;
  tmux_.Keys("console", {"Enter"});
  EXPECT_TRUE(tmux_.WaitForText(
      "console", {absl::StrCat("paired TV ", code, " as k1")}, &screen))
      << screen;

  // The same code again: the server's refusal shows.
  tmux_.Keys("console", {"k"});
  tmux_.Keys("console", {code}, /*literal=*/true);
  tmux_.Keys("console", {"Enter"});
  EXPECT_TRUE(tmux_.WaitForText(
      "console", {"TV not paired: ", "already approved"}, &screen))
      << screen;
  tmux_.Keys("console", {"q"});
  int exit_code = -1;
  ASSERT_TRUE(tmux_.WaitForExit("console", &exit_code));
  EXPECT_EQ(exit_code, 0);
}

TEST_F(ScreensTest, ParticipantLogsRepsAndEffortAndQuitsKeepingTheSeat) {
  auto instructor = Instructor();
  StartClass(instructor.get());
  const std::string exercise = absl::AsciiStrToUpper(CurrentExercise());
  ASSERT_TRUE(tmux_.Start(
      "phone",
      Circuit({"join", info_.join_code(), "--name=Dana", "--show_name"}), 90,
      30));
  std::string screen;
  ASSERT_TRUE(tmux_.WaitForScreen(
      "phone",
      [&](const std::string& s) {
        return absl::StrContains(s, exercise + " — LEFT") &&
               absl::StrContains(s, "Time left ") && ShowsBigCountdown(s, 45);
      },
      &screen))
      << screen;

  tmux_.Keys("phone", {"9", "Enter"});
  EXPECT_TRUE(
      tmux_.WaitForText("phone", {"recorded 9 reps", "You: 9 reps"}, &screen))
      << screen;
  EXPECT_TRUE(instructor->WaitFor(
      [](const ClassMirror& m) {
        const v1::RosterEntry* dana = Find(m, "Dana");
        return dana != nullptr && dana->progress().total_reps() == 9 &&
               dana->done_current();
      },
      kTimeout));

  tmux_.Keys("phone", {"h"});
  EXPECT_TRUE(
      tmux_.WaitForText("phone", {"recorded effort: too hard"}, &screen))
      << screen;
  EXPECT_TRUE(instructor->WaitFor(
      [](const ClassMirror& m) {
        const v1::RosterEntry* dana = Find(m, "Dana");
        return dana != nullptr &&
               dana->progress().last_feel() == v1::EFFORT_FEEL_TOO_HARD;
      },
      kTimeout));

  // q quits without leaving: the server holds the seat.
  tmux_.Keys("phone", {"q"});
  int code = -1;
  ASSERT_TRUE(tmux_.WaitForExit("phone", &code));
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(instructor->WaitFor(
      [](const ClassMirror& m) {
        const v1::RosterEntry* dana = Find(m, "Dana");
        return dana != nullptr &&
               dana->connection() == v1::CONNECTION_STATE_DROPPED;
      },
      kTimeout));
}

TEST_F(ScreensTest, UnknownClassRestoresTheTerminalAndSaysWhy) {
  ASSERT_TRUE(
      tmux_.Start("kiosk", Circuit({"kiosk", "c-no-such-class",
                                    absl::StrCat("--key=", kKioskKey)})));
  int code = -1;
  ASSERT_TRUE(tmux_.WaitForExit("kiosk", &code));
  EXPECT_EQ(code, 1);
  std::string screen = tmux_.Capture("kiosk");
  EXPECT_THAT(screen, HasSubstr("circuit: "));
  EXPECT_THAT(screen, Not(HasSubstr("Connecting…")));
}

TEST_F(ScreensTest, PlainKioskPrintsLinesWithoutEscapesAndExitsAtTheEnd) {
  auto process = Subprocess::Start(
      Circuit({"kiosk", info_.class_id(), absl::StrCat("--key=", kKioskKey)}));
  ASSERT_TRUE(process.ok()) << process.status();
  std::string output;
  auto read_until = [&](const std::string& text) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (true) {
      absl::StatusOr<std::string> line = process->ReadLine(deadline);
      if (!line.ok()) return false;
      absl::StrAppend(&output, *line, "\n");
      if (absl::StrContains(*line, text)) return true;
    }
  };
  ASSERT_TRUE(read_until("[LOBBY]")) << output;
  auto instructor = Instructor();
  StartClass(instructor.get());
  ASSERT_TRUE(read_until("[RUNNING] #1/")) << output;
  EXPECT_THAT(output, HasSubstr(" set 1/2 left, 8-10 reps ("));
  v1::InstructorCommand end;
  end.mutable_end();
  ASSERT_TRUE(instructor->SendAndWait(end, kTimeout).ok());
  ASSERT_TRUE(read_until("[ENDED]")) << output;
  absl::StatusOr<int> code = process->Wait(absl::Now() + kTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << process->stderr_text();
  output += process->ReadAll(absl::Now() + kTimeout);
  EXPECT_EQ(output.find('\x1b'), std::string::npos) << output;
}

TEST_F(ScreensTest, PlainParticipantReportsFromStdinAndWaitsForAcks) {
  auto instructor = Instructor();
  StartClass(instructor.get());
  std::vector<std::string> join =
      Circuit({"join", info_.join_code(), "--name=Ann"});
  std::vector<std::string> quoted;
  for (const std::string& arg : join) quoted.push_back(Quote(arg));
  auto process = Subprocess::Start(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'reps 9\\neffort right\\nsymptom other\\n' | ",
                    absl::StrJoin(quoted, " "))});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> code = process->Wait(absl::Now() + kTimeout);
  const std::string output = process->ReadAll(absl::Now() + kTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << output << process->stderr_text();
  EXPECT_THAT(output, HasSubstr("joined as "));
  EXPECT_THAT(output, HasSubstr("[RUNNING] #1/"));
  EXPECT_THAT(output, HasSubstr("(9 reps)"));
  EXPECT_THAT(output, HasSubstr("(effort just right)"));
  EXPECT_THAT(output, HasSubstr("symptom other needs a description"));
  EXPECT_EQ(output.find('\x1b'), std::string::npos) << output;
  // Stdin ran out: the seat is held, not left.
  EXPECT_TRUE(instructor->WaitFor(
      [](const ClassMirror& m) {
        const v1::RosterEntry* ann = Find(m, "Ann");
        return ann != nullptr && ann->progress().total_reps() == 9 &&
               ann->connection() == v1::CONNECTION_STATE_DROPPED;
      },
      kTimeout));
}

TEST_F(ScreensTest, PlainJoinWithAnUnknownCodeFails) {
  auto process =
      Subprocess::Start(Circuit({"join", "ZZZZZZ", "--name=Ann", "--plain"}));
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> code = process->Wait(absl::Now() + kTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(process->stderr_text(), HasSubstr("circuit: "));
}

TEST_F(ScreensTest, JsonKioskPrintsOneMessagePerLine) {
  auto process =
      Subprocess::Start(Circuit({"kiosk", info_.class_id(),
                                 absl::StrCat("--key=", kKioskKey), "--json"}));
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> line = process->ReadLine(absl::Now() + kTimeout);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(absl::StartsWith(*line, "{")) << *line;
  EXPECT_THAT(*line, HasSubstr("\"snapshot\""));
  EXPECT_THAT(*line, HasSubstr("\"server_time_unix_ms\""));
}

}  // namespace
}  // namespace circuit::client
