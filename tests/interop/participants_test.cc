// Participant apps in other languages against a real in-process circuitd:
// the Python one (Debian's grpcio) and the Node one (@grpc/grpc-js). Each
// joins through a TCP proxy, reports every work interval the C++ instructor
// moves through, loses its network twice (once for a while, so it misses
// events; once as new reports go out) and resumes each time, and sums up what
// was acknowledged when the class ends; the instructor's roster must agree.
//
// The apps print one line per step (see tests/interop/python/participant.py):
// `joined <id>`, `acked <report_id>`, `reported <interval>`,
// `resumed <last_seq>`, `done <reps> <completions> <symptoms>`, `error ...`.

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/connection.h"
#include "client/lib/live_session.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/common/log.h"
#include "server/engine/class_session.h"
#include "server/library/circuit_library.h"
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
using testing::CueCommand;
using testing::FindRosterEntry;
using testing::NextCommand;
using testing::StartCommand;
using testing::Subprocess;
using testing::TcpProxy;

// How long any one step may take: a line from the app, a command, a roster
// change. Generous, since a failing step ends the case anyway.
constexpr absl::Duration kStep = absl::Seconds(10);
constexpr char kInstructorKey[] = "interop-instructor-key";
constexpr char kKioskKey[] = "interop-kiosk-key";
constexpr char kCircuit[] = "kickback-trio";
// The network is cut once the app has reported this (work) interval.
constexpr int kCutAfterInterval = 4;
// What the apps report for every work interval.
constexpr int kRepsPerSet = 9;

enum class Language { kPython, kNode };

std::string LanguageName(Language language) {
  return language == Language::kPython ? "Python" : "Node";
}

void PrintTo(Language language, std::ostream* os) {
  *os << LanguageName(language);
}

// The command line that runs the app in `language` as participant `name`.
std::vector<std::string> AppArgv(Language language, const std::string& address,
                                 const std::string& code,
                                 const std::string& name) {
  std::vector<std::string> argv;
  switch (language) {
    case Language::kPython:
      // Debian's interpreter: it has grpcio; the one on PATH may not.
      argv = {"/usr/bin/env", absl::StrCat("PYTHONPATH=", CIRCUIT_PY_GEN_DIR),
              "PYTHONDONTWRITEBYTECODE=1", "/usr/bin/python3",
              absl::StrCat(CIRCUIT_INTEROP_DIR, "/python/participant.py")};
      break;
    case Language::kNode:
      argv = {"/usr/bin/env",
              absl::StrCat("CIRCUIT_PROTO_DIR=", CIRCUIT_SOURCE_DIR, "/proto"),
              "node",
              absl::StrCat(CIRCUIT_INTEROP_DIR, "/node/participant.js")};
      break;
  }
  for (const std::string& arg :
       {std::string("--address"), address, std::string("--code"), code,
        std::string("--name"), name}) {
    argv.push_back(arg);
  }
  return argv;
}

// The app's stdout, line by line, with everything read kept for failure
// messages.
class AppLines {
 public:
  explicit AppLines(Subprocess* app) : app_(app) {}

  // Reads lines until one starts with `prefix` and returns the rest of it.
  // Fails on an `error` line, at end of output and at the deadline.
  absl::StatusOr<std::string> Await(const std::string& prefix) {
    const absl::Time deadline = absl::Now() + kStep;
    while (true) {
      absl::StatusOr<std::string> line = app_->ReadLine(deadline);
      if (!line.ok()) {
        return absl::Status(line.status().code(),
                            absl::StrCat("waiting for `", prefix,
                                         "`: ", line.status().message()));
      }
      transcript_.push_back(*line);
      if (absl::StartsWith(*line, prefix)) {
        return line->substr(prefix.size());
      }
      if (absl::StartsWith(*line, "error")) {
        return absl::InternalError(
            absl::StrCat("waiting for `", prefix, "`, got `", *line, "`"));
      }
    }
  }

  // Lines read so far that start with `prefix`.
  int Count(const std::string& prefix) const {
    int count = 0;
    for (const std::string& line : transcript_) {
      if (absl::StartsWith(line, prefix)) ++count;
    }
    return count;
  }

  // Every line read so far, for failure messages.
  std::string Transcript() const { return absl::StrJoin(transcript_, "\n"); }

 private:
  Subprocess* app_;
  std::vector<std::string> transcript_;
};

class ParticipantsTest : public ::testing::TestWithParam<Language> {
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
    options.service.keys.instructor_key = kInstructorKey;
    options.service.keys.kiosk_key = kKioskKey;
    auto server = CircuitServer::Start(options, library_.get(), Clock::Real());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto proxy = TcpProxy::Start(server_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);

    ConnectOptions connect;
    connect.address = absl::StrCat("127.0.0.1:", server_->port());
    direct_ = std::make_shared<Connection>(connect);
    auto info = direct_->CreateClass(kInstructorKey, kCircuit, "");
    ASSERT_TRUE(info.ok()) << info.status();
    class_ = *info;
  }

  void TearDown() override {
    if (instructor_ != nullptr) instructor_->Stop();
    if (!app_.has_value()) return;
    // After a failure the app may be on its way out (say, after an `error`
    // line); give it a moment, then kill it, to collect its stderr.
    if (!app_exit_.has_value()) {
      app_exit_ = app_->Wait(absl::Now() + absl::Seconds(2));
    }
    if (HasFailure()) {
      ADD_FAILURE() << LanguageName(GetParam()) << " app, exit "
                    << (app_exit_->ok()
                            ? absl::StrCat(**app_exit_)
                            : std::string(app_exit_->status().message()))
                    << "\n--- stdout ---\n"
                    << lines_->Transcript() << "\n"
                    << app_->ReadAll(absl::Now()) << "--- stderr ---\n"
                    << app_->stderr_text();
    }
  }

  void StartApp(const std::string& name) {
    auto app = Subprocess::Start(
        AppArgv(GetParam(), absl::StrCat("127.0.0.1:", proxy_->port()),
                class_.join_code(), name));
    ASSERT_TRUE(app.ok()) << app.status();
    app_.emplace(std::move(*app));
    lines_.emplace(&*app_);
  }

  // Waits for the app to exit (once): its exit code.
  absl::StatusOr<int> WaitForApp() {
    if (!app_exit_.has_value()) app_exit_ = app_->Wait(absl::Now() + kStep);
    return *app_exit_;
  }

  // Reads the app's next `reported` line: the interval it reported.
  absl::StatusOr<int> NextReported() {
    absl::StatusOr<std::string> rest = lines_->Await("reported ");
    if (!rest.ok()) return rest.status();
    int interval = -1;
    if (!absl::SimpleAtoi(*rest, &interval)) {
      return absl::InternalError(
          absl::StrCat("bad line `reported ", *rest, "`"));
    }
    return interval;
  }

  // Waits until the instructor's roster shows the participant `state`.
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

  void StartInstructor() {
    SessionOptions options;
    options.backoff_initial = absl::Milliseconds(20);
    options.backoff_max = absl::Milliseconds(200);
    options.clock_samples = 1;
    instructor_ = std::make_unique<InstructorSession>(
        direct_, kInstructorKey, class_.class_id(), options);
    instructor_->Start();
    ASSERT_TRUE(instructor_->WaitFor(
        [](const ClassMirror& m) { return m.has_snapshot(); }, kStep));
  }

  // Sends a command and returns the seq of the event it produced.
  int64_t Command(v1::InstructorCommand command) {
    auto result = instructor_->SendAndWait(std::move(command), kStep);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->seq() : 0;
  }

  std::unique_ptr<CircuitLibrary> library_;
  std::vector<v1::Interval> plan_;
  std::unique_ptr<CircuitServer> server_;
  std::unique_ptr<TcpProxy> proxy_;
  std::shared_ptr<Connection> direct_;
  v1::ClassInfo class_;
  std::unique_ptr<InstructorSession> instructor_;
  std::optional<Subprocess> app_;
  std::optional<absl::StatusOr<int>> app_exit_;
  std::optional<AppLines> lines_;
};

TEST_P(ParticipantsTest, ReportsAWholeClassAcrossNetworkCuts) {
  // What a participant who reports every work interval ends up with.
  int work_intervals = 0;
  int first_work_of_block_1 = -1;
  for (const v1::Interval& interval : plan_) {
    if (interval.kind() != v1::INTERVAL_KIND_WORK) continue;
    ++work_intervals;
    if (interval.block_index() == 1 && first_work_of_block_1 < 0) {
      first_work_of_block_1 = interval.index();
    }
  }
  ASSERT_EQ(plan_.at(kCutAfterInterval).kind(), v1::INTERVAL_KIND_WORK);
  // The app reports its symptom with its first set of block 1.
  ASSERT_GT(first_work_of_block_1, kCutAfterInterval + 1);

  const std::string name = absl::StrCat(LanguageName(GetParam()), "-Dana");
  ASSERT_NO_FATAL_FAILURE(StartApp(name));
  absl::StatusOr<std::string> participant_id = lines_->Await("joined ");
  ASSERT_TRUE(participant_id.ok()) << participant_id.status();
  ASSERT_FALSE(participant_id->empty());

  ASSERT_NO_FATAL_FAILURE(StartInstructor());
  ASSERT_GT(Command(StartCommand()), 0);
  for (int i = 0; i < static_cast<int>(plan_.size()); ++i) {
    // The class moves only when the instructor says: the intervals' timers
    // are far longer than a step here.
    ASSERT_EQ(instructor_->Mirror().state().current().index(), i);
    if (plan_[static_cast<size_t>(i)].kind() == v1::INTERVAL_KIND_WORK) {
      absl::StatusOr<int> reported = NextReported();
      ASSERT_TRUE(reported.ok()) << reported.status();
      ASSERT_EQ(*reported, i);
    }
    if (i != kCutAfterInterval) {
      ASSERT_GT(Command(NextCommand()), 0);
      if (i + 1 == first_work_of_block_1) {
        // A second cut as the app gets the new interval: its completion and
        // symptom may be in flight, unsent or acked; either way they are
        // resent with the same ids until acked and counted once.
        proxy_->Cut();
      }
      continue;
    }

    // The app's network goes; what happens meanwhile it gets on resuming.
    proxy_->SetRefusing(true);
    proxy_->Cut();
    ASSERT_TRUE(
        WaitForConnection(*participant_id, v1::CONNECTION_STATE_DROPPED))
        << "the instructor never saw the app drop";
    const int64_t missed_seq = Command(NextCommand());
    ASSERT_GT(missed_seq, 0);
    ASSERT_GT(Command(CueCommand("Squeeze at the top")), missed_seq);
    proxy_->SetRefusing(false);
    absl::StatusOr<std::string> resumed = lines_->Await("resumed ");
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    int64_t resumed_from = 0;
    ASSERT_TRUE(absl::SimpleAtoi(*resumed, &resumed_from)) << *resumed;
    EXPECT_GT(resumed_from, 0);
    EXPECT_LT(resumed_from, missed_seq) << "it resumed from before the cut";
    ASSERT_TRUE(
        WaitForConnection(*participant_id, v1::CONNECTION_STATE_CONNECTED))
        << "the instructor never saw the app come back";
  }
  ASSERT_EQ(instructor_->Mirror().state().phase(), v1::CLASS_PHASE_ENDED);

  absl::StatusOr<std::string> done = lines_->Await("done ");
  ASSERT_TRUE(done.ok()) << done.status();
  absl::StatusOr<int> exit = WaitForApp();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
  EXPECT_EQ(lines_->Count("resumed "), 2) << "one resume per cut";
  const std::vector<std::string> totals = absl::StrSplit(*done, ' ');
  ASSERT_EQ(totals.size(), 3u) << *done;
  int reps = -1, completions = -1, symptoms = -1;
  ASSERT_TRUE(absl::SimpleAtoi(totals[0], &reps) &&
              absl::SimpleAtoi(totals[1], &completions) &&
              absl::SimpleAtoi(totals[2], &symptoms))
      << *done;
  EXPECT_EQ(reps, kRepsPerSet * work_intervals);
  EXPECT_EQ(completions, work_intervals);
  EXPECT_EQ(symptoms, 1);

  // The instructor saw the same, each report counted once despite the cuts.
  ASSERT_TRUE(instructor_->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e = FindRosterEntry(m.roster(), *participant_id);
        return e != nullptr &&
               e->progress().total_reps() == kRepsPerSet * work_intervals &&
               e->progress().symptoms_size() >= 1 &&
               e->progress().has_last_cr10();
      },
      kStep))
      << "the instructor's roster never caught up";
  const ClassMirror mirror = instructor_->Mirror();
  ASSERT_EQ(mirror.roster().size(), 1u) << "one seat, resumed, not a new one";
  const v1::RosterEntry& entry = mirror.roster().front();
  EXPECT_EQ(entry.participant_id(), *participant_id);
  EXPECT_EQ(entry.check_in().display_name(), name);
  EXPECT_TRUE(entry.check_in().show_name_on_kiosk());
  EXPECT_EQ(entry.progress().total_reps(), kRepsPerSet * work_intervals);
  ASSERT_EQ(entry.progress().symptoms_size(), 1);
  EXPECT_EQ(entry.progress().symptoms(0), v1::SYMPTOM_HIP_PINCH);
  EXPECT_EQ(entry.progress().last_feel(), v1::EFFORT_FEEL_JUST_RIGHT);
  EXPECT_EQ(entry.progress().last_cr10(), 5);
  int sets_done = 0;
  for (const v1::BlockProgress& block : entry.progress().blocks()) {
    sets_done += block.sets_done();
  }
  EXPECT_EQ(sets_done, work_intervals);
}

std::string AppTestName(const ::testing::TestParamInfo<Language>& param) {
  return LanguageName(param.param);
}

INSTANTIATE_TEST_SUITE_P(Apps, ParticipantsTest,
                         ::testing::Values(Language::kPython, Language::kNode),
                         AppTestName);

}  // namespace
}  // namespace circuit
