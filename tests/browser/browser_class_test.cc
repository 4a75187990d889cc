// A whole class in a real browser: Debian's chromium, headless, driven by
// puppeteer-core (tests/browser/class_test.mjs, run with node). circuitd runs
// in this process with its HTTP listener; the C++ instructor drives the class
// through client/lib. The studio TV page pairs (the instructor approves its
// code) and follows the class; two participant pages join by the join code
// and log every set the instructor moves through. A consents to the wall and
// is named with markup; B does not consent, goes offline for an interval and
// logs a set meanwhile. A reports a symptom and an effort.
//
// Checked: the kiosk shows the server's interval and a countdown within
// 100 ms of the server's at every interval (the server's clock runs
// kClockSkew ahead of this machine's, so the page must estimate the offset);
// the wall shows A's name, as text, and never B's; no effort or symptom data
// reaches the kiosk page's DOM or network; the report B made offline is
// acknowledged once after it reconnects; the roster counts every set once
// and agrees with what the pages show. Screenshots of the kiosk (1920x1080
// and 3840x2160) and of A's phone (360 wide) end up in
// build/browser-screenshots/.
//
// The script's line protocol is described at the top of class_test.mjs.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/connection.h"
#include "client/lib/kiosks.h"
#include "client/lib/live_session.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/common/clock.h"
#include "server/common/log.h"
#include "server/engine/class_session.h"
#include "server/library/circuit_library.h"
#include "tests/browser/browser_script.h"
#include "tests/testing/class_commands.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/tcp_proxy.h"

namespace circuit {
namespace {

using client::ClassMirror;
using client::Connection;
using client::ConnectOptions;
using client::InstructorSession;
using client::SessionOptions;
using testing::BrowserScript;
using testing::CueCommand;
using testing::FindRosterEntry;
using testing::NextCommand;
using testing::StartCommand;
using testing::TcpProxy;
using testing::Words;

// How long one step may take: a line from the script, a command, a roster
// change. The script bounds each of its own waits at 15 s.
constexpr absl::Duration kStep = absl::Seconds(20);
constexpr char kInstructorKey[] = "browser-instructor-key";
constexpr char kKioskKey[] = "browser-kiosk-key";
constexpr char kCircuit[] = "kickback-trio";
// The server's clock runs this far ahead of the machine's (and so of the
// browser's): a page that did not estimate the offset would be 5 s off.
constexpr absl::Duration kClockSkew = absl::Seconds(5);
// The countdown on the kiosk may differ from the server's by this much.
constexpr int kCountdownToleranceMs = 100;
// What A and B log for every set.
constexpr int kRepsA = 9;
constexpr int kRepsB = 8;
// B goes offline at its third set (work interval 2, counting from 0).
constexpr int kOfflineWorkInterval = 2;
// The cue B misses while offline, and shows once back.
constexpr char kMissedCue[] = "Squeeze at the top";

// The server's clock: the machine's, kClockSkew ahead.
class SkewedClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now() + kClockSkew; }
};

int ToInt(const std::string& text) {
  int value = -1;
  EXPECT_TRUE(absl::SimpleAtoi(text, &value)) << "not a number: " << text;
  return value;
}

class BrowserClassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);

    auto library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));
    const v1::Circuit* circuit = library_->FindCircuit(kCircuit);
    ASSERT_NE(circuit, nullptr);
    plan_ = engine::PlanIntervals(*circuit, *library_);

    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    // To try pages being edited without a rebuild:
    // CIRCUIT_HTTP_STATIC_DIR=server/http/static (as --http_static_dir).
    if (const char* dir = getenv("CIRCUIT_HTTP_STATIC_DIR"); dir != nullptr) {
      options.http_static_dir = dir;
    }
    options.service.keys.instructor_key = kInstructorKey;
    options.service.keys.kiosk_key = kKioskKey;
    auto server = CircuitServer::Start(options, library_.get(), &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->http_port(), 0);
    // B's page goes through this, to be cut off.
    auto proxy = TcpProxy::Start(server_->http_port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);

    ConnectOptions connect;
    connect.address = absl::StrCat("127.0.0.1:", server_->port());
    connection_ = std::make_shared<Connection>(connect);
    auto info = connection_->CreateClass(kInstructorKey, kCircuit, "");
    ASSERT_TRUE(info.ok()) << info.status();
    class_ = *info;
  }

  void TearDown() override {
    if (instructor_ != nullptr) instructor_->Stop();
    if (HasFailure()) {
      ADD_FAILURE() << "the browser script, " << script_.Dump();
    }
  }

  // Starts class_test.mjs.
  void StartScript() {
    script_.Start(
        absl::StrCat(CIRCUIT_BROWSER_DIR, "/class_test.mjs"),
        {"--base", absl::StrCat("http://127.0.0.1:", http_port()),
         "--proxied-base", absl::StrCat("http://127.0.0.1:", proxy_->port()),
         "--code", class_.join_code(), "--skew-ms",
         absl::StrCat(absl::ToInt64Milliseconds(kClockSkew))});
  }

  int http_port() const { return server_->http_port(); }

  void Send(const std::string& command) { script_.Send(command); }

  // Sends `command` and returns the rest of the answer starting with
  // `answer`.
  std::string Ask(const std::string& command, const std::string& answer,
                  absl::Duration timeout = kStep) {
    return script_.Ask(command, answer, timeout);
  }

  // The instructor approves the code the kiosk page shows (what `circuit
  // kiosk pair CODE` does).
  void ApprovePairing(const std::string& code) {
    absl::StatusOr<v1::Kiosk> kiosk = client::ApproveKioskPairing(
        *connection_, kInstructorKey, code, "browser test TV");
    ASSERT_TRUE(kiosk.ok()) << "approving " << code << ": " << kiosk.status();
    EXPECT_FALSE(kiosk->kiosk_id().empty());
  }

  void StartInstructor() {
    SessionOptions options;
    options.backoff_initial = absl::Milliseconds(20);
    options.backoff_max = absl::Milliseconds(200);
    options.clock_samples = 1;
    instructor_ = std::make_unique<InstructorSession>(
        connection_, kInstructorKey, class_.class_id(), options);
    instructor_->Start();
    ASSERT_TRUE(instructor_->WaitFor(
        [](const ClassMirror& m) { return m.has_snapshot(); }, kStep));
  }

  // Sends a command and waits until the mirror shows interval `index` (or
  // the end, for -1).
  void Command(v1::InstructorCommand command, int index) {
    auto result = instructor_->SendAndWait(std::move(command), kStep);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_TRUE(instructor_->WaitFor(
        [&](const ClassMirror& m) {
          return index < 0 ? m.state().phase() == v1::CLASS_PHASE_ENDED
                           : m.state().phase() == v1::CLASS_PHASE_RUNNING &&
                                 m.state().current().index() == index;
        },
        kStep))
        << "the class never reached interval " << index;
  }

  // Waits until the roster shows `participant_id` in `state`.
  bool WaitForConnection(const std::string& participant_id,
                         v1::ConnectionState state) {
    return instructor_->WaitFor(
        [&](const ClassMirror& m) {
          const v1::RosterEntry* e =
              FindRosterEntry(m.roster(), participant_id);
          return e != nullptr && e->connection() == state;
        },
        kStep);
  }

  // The kiosk shows interval `index`; its countdown is checked against the
  // server's deadline when the interval is timed.
  void CheckKiosk(int index) {
    const v1::ClassState state = instructor_->Mirror().state();
    ASSERT_EQ(state.current().index(), index);
    const int64_t deadline = state.timer().deadline_unix_ms();
    ASSERT_GT(deadline, 0) << "interval " << index << " is not timed";
    const std::string answer =
        Ask(absl::StrCat("interval ", index, " ", deadline),
            absl::StrCat("kiosk ", index, " "));
    const std::vector<std::string> words = Words(answer);
    ASSERT_EQ(words.size(), 2u) << answer;
    EXPECT_GE(ToInt(words[0]), 1) << "no countdown render at " << index;
    worst_countdown_error_ms_ =
        std::max(worst_countdown_error_ms_, ToInt(words[1]));
    EXPECT_LE(ToInt(words[1]), kCountdownToleranceMs)
        << "the kiosk's countdown is off by " << words[1]
        << " ms from the server's at interval " << index;
  }

  // Has `who` log interval `index`'s set; checks the page sent it for the
  // right block, set and side.
  void Log(const std::string& who, int index, int reps) {
    const std::string answer =
        Ask(absl::StrCat("log ", who, " ", index, " ", reps),
            absl::StrCat("logged ", who, " ", index, " "));
    CheckLogged(answer, index, reps);
  }

  void CheckLogged(const std::string& answer, int index, int reps) {
    const v1::Interval& interval = plan_[static_cast<size_t>(index)];
    const std::vector<std::string> words = Words(answer);
    ASSERT_EQ(words.size(), 4u) << answer;
    EXPECT_EQ(ToInt(words[0]), reps);
    EXPECT_EQ(ToInt(words[1]), interval.block_index()) << answer;
    EXPECT_EQ(ToInt(words[2]), interval.set()) << answer;
    EXPECT_EQ(words[3], v1::Side_Name(interval.side())) << answer;
  }

  SkewedClock clock_;
  std::unique_ptr<CircuitLibrary> library_;
  std::vector<v1::Interval> plan_;
  std::unique_ptr<CircuitServer> server_;
  std::unique_ptr<TcpProxy> proxy_;
  std::shared_ptr<Connection> connection_;
  v1::ClassInfo class_;
  std::unique_ptr<InstructorSession> instructor_;
  // The kiosk countdown's largest error from the server's, over the class.
  int worst_countdown_error_ms_ = 0;
  BrowserScript script_;
};

TEST_F(BrowserClassTest, TwoPhonesAndAKioskFollowAWholeClass) {
  ASSERT_NO_FATAL_FAILURE(testing::CheckBrowserInstalled(CIRCUIT_BROWSER_DIR));
  int work_intervals = 0;
  int offline_interval = -1;
  for (const v1::Interval& interval : plan_) {
    if (interval.kind() != v1::INTERVAL_KIND_WORK) continue;
    if (work_intervals++ == kOfflineWorkInterval) {
      offline_interval = interval.index();
    }
  }
  ASSERT_GT(offline_interval, 0);
  // B misses the interval after it, a rest.
  ASSERT_LT(offline_interval + 1, static_cast<int>(plan_.size()));
  ASSERT_EQ(plan_[static_cast<size_t>(offline_interval) + 1].kind(),
            v1::INTERVAL_KIND_REST);

  // The TV pairs: the page shows a code, the instructor approves it, and
  // the page opens the studio's live class.
  ASSERT_NO_FATAL_FAILURE(StartScript());
  absl::StatusOr<std::string> code =
      script_.Await("pairing ", absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_NO_FATAL_FAILURE(ApprovePairing(*code));
  absl::StatusOr<std::string> watching = script_.Await("kiosk watching", kStep);
  ASSERT_TRUE(watching.ok()) << watching.status();

  // Two phones join by the code.
  ASSERT_NO_FATAL_FAILURE(StartInstructor());
  std::map<std::string, std::string> ids;
  for (const char* who : {"A", "B"}) {
    const std::string id =
        Ask(absl::StrCat("join ", who), absl::StrCat("joined ", who, " "));
    ASSERT_FALSE(id.empty());
    ids[who] = id;
    ASSERT_TRUE(WaitForConnection(id, v1::CONNECTION_STATE_CONNECTED))
        << who << " never showed on the roster";
  }
  // On a 360x740 phone the class opens with what she needs mid-set on
  // screen, not under the sticky header.
  EXPECT_EQ(Ask("layout A", "layout A "), "ok");

  ASSERT_NO_FATAL_FAILURE(Command(StartCommand(), 0));
  bool reported_health = false;
  bool checked_layout = false;
  bool checked_note = false;
  const int last = static_cast<int>(plan_.size()) - 1;
  for (int i = 0; i <= last; ++i) {
    ASSERT_NO_FATAL_FAILURE(CheckKiosk(i));
    const v1::Interval& interval = plan_[static_cast<size_t>(i)];
    if (interval.kind() == v1::INTERVAL_KIND_WORK) {
      if (!checked_layout) {  // mid-set, before any tap scrolled the page
        checked_layout = true;
        EXPECT_EQ(Ask("layout A", "layout A "), "ok");
      }
      // A is on the cesarean track: her phone shows that track's note with
      // the exercises that have one, and nothing with those that do not.
      const v1::Exercise* exercise =
          library_->FindExercise(interval.exercise_id());
      ASSERT_NE(exercise, nullptr);
      std::string cesarean_note;
      for (const v1::TrackOption& option : exercise->track_options()) {
        if (option.track() == v1::RECOVERY_TRACK_CESAREAN) {
          cesarean_note = option.note();
        }
      }
      if (!cesarean_note.empty() || !checked_note) {
        checked_note = checked_note || !cesarean_note.empty();
        EXPECT_EQ(Ask("note A", "note A"),
                  cesarean_note.empty() ? "" : " " + cesarean_note)
            << interval.exercise_id();
      }
      ASSERT_NO_FATAL_FAILURE(Log("A", i, kRepsA));
      if (!reported_health) {
        reported_health = true;
        EXPECT_EQ(Ask("effort A", "effort A"), "");
        EXPECT_EQ(Ask("symptom A", "symptom A"), "");
      }
      if (i != offline_interval) {
        ASSERT_NO_FATAL_FAILURE(Log("B", i, kRepsB));
      } else {
        // B's phone loses its network: the page is offline and its open
        // streams are cut. It logs the set anyway, and misses the next
        // interval and a cue.
        Ask("offline B", "offline B");
        proxy_->SetRefusing(true);
        proxy_->Cut();
        ASSERT_TRUE(WaitForConnection(ids["B"], v1::CONNECTION_STATE_DROPPED))
            << "the instructor never saw B drop";
        const std::string queued =
            Ask(absl::StrCat("log-offline B ", i, " ", kRepsB), "queued B ");
        ASSERT_FALSE(queued.empty());
        ASSERT_NO_FATAL_FAILURE(Command(NextCommand(), i + 1));
        ASSERT_TRUE(
            instructor_->SendAndWait(CueCommand(kMissedCue), kStep).ok());
        proxy_->SetRefusing(false);
        const std::vector<std::string> synced =
            Words(Ask(absl::StrCat("online B ", kMissedCue), "synced B ",
                      absl::Seconds(40)));
        ASSERT_EQ(synced.size(), 3u);
        EXPECT_EQ(synced[0], queued);
        EXPECT_EQ(synced[1], "1") << "the offline report was not acked once";
        EXPECT_EQ(synced[2], "0") << "the offline report was resent after "
                                     "its ack";
        ASSERT_TRUE(WaitForConnection(ids["B"], v1::CONNECTION_STATE_CONNECTED))
            << "the instructor never saw B come back";
        ++i;
        ASSERT_NO_FATAL_FAILURE(CheckKiosk(i));
      }
    }
    if (i == last) {
      // Everyone has logged every set: the kiosk's total catches up, and
      // the pictures are taken.
      Ask(absl::StrCat("screenshots ", CIRCUIT_SCREENSHOT_DIR, " ",
                       (kRepsA + kRepsB) * work_intervals),
          "screenshots ");
    }
    ASSERT_NO_FATAL_FAILURE(Command(NextCommand(), i == last ? -1 : i + 1));
  }
  EXPECT_TRUE(checked_note) << "no exercise of the class had a cesarean note";

  // What everyone ended up with.
  const int want_a = kRepsA * work_intervals;
  const int want_b = kRepsB * work_intervals;
  ASSERT_TRUE(instructor_->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* a = FindRosterEntry(m.roster(), ids["A"]);
        const v1::RosterEntry* b = FindRosterEntry(m.roster(), ids["B"]);
        return a != nullptr && b != nullptr &&
               a->progress().total_reps() == want_a &&
               b->progress().total_reps() == want_b;
      },
      kStep))
      << "the roster never showed " << want_a << " and " << want_b << " reps";
  const ClassMirror mirror = instructor_->Mirror();
  ASSERT_EQ(mirror.roster().size(), 2u) << "B resumed its seat";
  const v1::RosterEntry& a = *FindRosterEntry(mirror.roster(), ids["A"]);
  const v1::RosterEntry& b = *FindRosterEntry(mirror.roster(), ids["B"]);
  EXPECT_TRUE(a.check_in().show_name_on_kiosk());
  EXPECT_FALSE(b.check_in().show_name_on_kiosk());
  ASSERT_EQ(a.progress().symptoms_size(), 1);
  EXPECT_EQ(a.progress().symptoms(0), v1::SYMPTOM_OTHER);
  EXPECT_EQ(a.progress().last_feel(), v1::EFFORT_FEEL_TOO_HARD);
  EXPECT_EQ(b.progress().symptoms_size(), 0);
  for (const v1::RosterEntry* entry : {&a, &b}) {
    int sets_done = 0;
    for (const v1::BlockProgress& block : entry->progress().blocks()) {
      sets_done += block.sets_done();
    }
    EXPECT_EQ(sets_done, work_intervals) << entry->check_in().display_name();
  }

  Send("finish");
  absl::StatusOr<std::vector<std::string>> report =
      script_.Until("finished", kStep);
  ASSERT_TRUE(report.ok()) << report.status();
  std::vector<std::string> wall;
  bool captured = false;
  for (const std::string& line : *report) {
    if (absl::StartsWith(line, "own ")) {
      const std::vector<std::string> words = Words(line);
      ASSERT_EQ(words.size(), 3u) << line;
      EXPECT_EQ(ToInt(words[2]), words[1] == "A" ? want_a : want_b)
          << "the page's own total: " << line;
    } else if (absl::StartsWith(line, "wall ")) {
      wall.push_back(line.substr(5));
    } else if (absl::StartsWith(line, "kiosk-capture ")) {
      // Proof that the capture saw the kiosk's stream: bytes, chunks and
      // the consenting name in them.
      const std::vector<std::string> words = Words(line);
      ASSERT_EQ(words.size(), 4u) << line;
      EXPECT_GT(ToInt(words[1]), 0) << line;
      EXPECT_GT(ToInt(words[2]), 0) << line;
      EXPECT_EQ(words[3], "1") << "A's name never reached the kiosk: " << line;
      captured = true;
    } else {
      ADD_FAILURE() << line;  // a leak or a problem
    }
  }
  EXPECT_TRUE(captured);
  // One entry: A's name, shown as text (an entry may add the reps).
  ASSERT_EQ(wall.size(), 1u) << "the wall: " << absl::StrJoin(wall, " | ");
  EXPECT_TRUE(absl::StrContains(wall[0], a.check_in().display_name()))
      << wall[0];
  EXPECT_FALSE(absl::StrContains(wall[0], b.check_in().display_name()));

  RecordProperty("worst_countdown_error_ms", worst_countdown_error_ms_);
  std::printf("kiosk countdown: at most %d ms from the server's\n",
              worst_countdown_error_ms_);

  Send("quit");
  absl::StatusOr<std::string> bye = script_.Await("bye", kStep);
  ASSERT_TRUE(bye.ok()) << bye.status();
  const absl::StatusOr<int> exit = script_.Finish(kStep);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
}

// A phone keeps a profile over three classes of kickback-trio (issue 23):
// in the first she ticks "Keep my profile on this device"; in the next two
// the page joins with the stored credential and no name typed. Every set
// is at the top of its range and every block rated too easy, so after two
// such classes (the rule table's repeat_classes) her third opens with her
// plan today (the progressions). After each class her phone draws her
// chart with one bar per class so far; in the third, the instructor's
// browser console shows her progress from her roster row; the studio TV,
// paired for the third class, shows and receives none of it. The chart at
// 360x740 ends up in build/browser-screenshots/. The script's protocol is at
// the top of profile_test.mjs.
TEST_F(BrowserClassTest, APhoneKeepsAProfileOverThreeClasses) {
  ASSERT_NO_FATAL_FAILURE(testing::CheckBrowserInstalled(CIRCUIT_BROWSER_DIR));
  ASSERT_NO_FATAL_FAILURE(
      script_.Start(absl::StrCat(CIRCUIT_BROWSER_DIR, "/profile_test.mjs"),
                    {"--base", absl::StrCat("http://127.0.0.1:", http_port()),
                     "--instructor-key", kInstructorKey}));
  ASSERT_TRUE(script_.Await("ready", absl::Seconds(60)).ok());

  constexpr int kClasses = 3;
  std::string participant_id;
  for (int n = 1; n <= kClasses; ++n) {
    SCOPED_TRACE(absl::StrCat("class ", n));
    if (n > 1) {
      if (instructor_ != nullptr) instructor_->Stop();
      instructor_.reset();
      auto info = connection_->CreateClass(kInstructorKey, kCircuit, "");
      ASSERT_TRUE(info.ok()) << info.status();
      class_ = *info;
      EXPECT_EQ(Ask("next", "next"), "");
    }
    if (n == kClasses) {
      // The studio TV follows the last class, the one with her plan.
      Send("kiosk");
      absl::StatusOr<std::string> code = script_.Await("pairing ", kStep);
      ASSERT_TRUE(code.ok()) << code.status();
      ASSERT_NO_FATAL_FAILURE(ApprovePairing(*code));
      ASSERT_TRUE(script_.Await("kiosk watching", absl::Seconds(40)).ok());
    }
    if (n == 2) {
      // Before joining: her progress from the join screen.
      const std::vector<std::string> shown =
          Words(Ask("my-progress 1", "chart "));
      ASSERT_GE(shown.size(), 2u);
      EXPECT_EQ(shown[0], "1");
    }
    ASSERT_NO_FATAL_FAILURE(StartInstructor());
    const bool want_plan = n == kClasses;
    const std::vector<std::string> joined = Words(
        Ask(absl::StrCat("join ", class_.join_code(), " ",
                         n == 1 ? "first" : "kept", " ", want_plan ? 1 : 0),
            "joined "));
    ASSERT_EQ(joined.size(), 4u);
    participant_id = joined[0];
    EXPECT_EQ(joined[1], n == 1 ? "keep" : "credential");
    EXPECT_EQ(joined[2], "1") << "the phone keeps no profile credential";
    if (want_plan) {
      EXPECT_GE(ToInt(joined[3]), 1) << "no plan today";
    } else {
      EXPECT_EQ(joined[3], "0") << "a plan before two classes of history";
    }
    ASSERT_TRUE(
        WaitForConnection(participant_id, v1::CONNECTION_STATE_CONNECTED));
    if (n == kClasses) {
      // The instructor's console: her progress from her roster row, one
      // bar per past class.
      const std::vector<std::string> shown = Words(Ask(
          absl::StrCat("console ", class_.class_id(), " ", n - 1), "console "));
      ASSERT_GE(shown.size(), 1u);
      EXPECT_EQ(shown[0], absl::StrCat(n - 1));
    }
    {
      const v1::RosterEntry* entry =
          FindRosterEntry(instructor_->Mirror().roster(), participant_id);
      ASSERT_NE(entry, nullptr);
      EXPECT_FALSE(entry->profile_id().empty()) << "the seat is not linked";
    }

    ASSERT_NO_FATAL_FAILURE(Command(StartCommand(), 0));
    const int last = static_cast<int>(plan_.size()) - 1;
    for (int i = 0; i <= last; ++i) {
      const v1::Interval& interval = plan_[static_cast<size_t>(i)];
      if (interval.kind() == v1::INTERVAL_KIND_WORK) {
        const int top = interval.target_reps().max_reps();
        ASSERT_GT(top, 0) << "interval " << i << " has no top of range";
        EXPECT_EQ(Ask(absl::StrCat("log ", i, " ", top), "logged "),
                  absl::StrCat(i, " ", top));
        EXPECT_EQ(Ask("easy", "easy"), "");
      }
      ASSERT_NO_FATAL_FAILURE(Command(NextCommand(), i == last ? -1 : i + 1));
    }
    // After the class: her chart, one bar per class so far.
    const std::vector<std::string> chart =
        Words(Ask(absl::StrCat("chart ", n), "chart ", absl::Seconds(30)));
    ASSERT_GE(chart.size(), 2u);
    EXPECT_EQ(chart[0], absl::StrCat(n));
    EXPECT_GE(ToInt(chart[1]), 3) << "a row per exercise and side";
  }
  const std::string shot =
      Ask(absl::StrCat("screenshot ", CIRCUIT_SCREENSHOT_DIR), "screenshot ");
  EXPECT_FALSE(shot.empty());

  Send("finish");
  absl::StatusOr<std::vector<std::string>> report =
      script_.Until("finished", kStep);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const std::string& line : *report) ADD_FAILURE() << line;

  Send("quit");
  ASSERT_TRUE(script_.Await("bye", kStep).ok());
  const absl::StatusOr<int> exit = script_.Finish(kStep);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
}

}  // namespace
}  // namespace circuit
