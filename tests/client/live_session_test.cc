// The client library against a real in-process circuitd on port 0. Network
// cuts go through a TCP proxy, so the client sees a real dropped connection.

#include "client/lib/live_session.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/lib/connection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/common/log.h"
#include "server/library/circuit_library.h"
#include "tests/testing/tcp_proxy.h"

namespace circuit::client {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kInstructorKey[] = "lib-instructor-key";
constexpr char kKioskKey[] = "lib-kiosk-key";

// The server's fake clock stands here; client clocks are set against it.
constexpr int64_t kServerNowMs = 1'780'000'000'000;

// A client clock that reads `times_ms` in order, one per call to Now(), and
// then the last one again. Thread-safe.
class ScriptedClock : public Clock {
 public:
  explicit ScriptedClock(std::vector<int64_t> times_ms)
      : times_ms_(std::move(times_ms)) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    int64_t ms = times_ms_[std::min(next_, times_ms_.size() - 1)];
    ++next_;
    return absl::FromUnixMillis(ms);
  }
  // How many times Now() was called.
  size_t reads() const {
    absl::MutexLock lock(&mu_);
    return next_;
  }

 private:
  const std::vector<int64_t> times_ms_;
  mutable absl::Mutex mu_;
  mutable size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

class LiveSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(ServerOptions()); }

  // Restarts the server on `clock`, which must outlive it.
  void StartServer(ServerOptions options, const Clock* clock = Clock::Real()) {
    SetLogQuiet(true);
    server_.reset();
    auto library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    library_ = std::make_unique<CircuitLibrary>(std::move(*library));
    options.listen = "127.0.0.1:0";
    options.service.keys.instructor_key = kInstructorKey;
    options.service.keys.kiosk_key = kKioskKey;
    auto server = CircuitServer::Start(options, library_.get(), clock);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto proxy = testing::TcpProxy::Start(server_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
    direct_ = Connect(server_->port());
    auto info = direct_->CreateClass(kInstructorKey, "kickback-trio", "");
    ASSERT_TRUE(info.ok()) << info.status();
    class_ = *info;
  }

  std::shared_ptr<Connection> Connect(int port,
                                      const Clock* clock = Clock::Real()) {
    ConnectOptions options;
    options.address = absl::StrCat("127.0.0.1:", port);
    options.clock = clock;
    return std::make_shared<Connection>(options);
  }

  // A participant whose network goes through the proxy.
  std::unique_ptr<ParticipantSession> JoinThroughProxy(
      const std::string& name, SessionOptions options = FastRetry()) {
    v1::CheckIn check_in;
    check_in.set_display_name(name);
    auto session = std::make_unique<ParticipantSession>(
        Connect(proxy_->port()), class_.join_code(), check_in, options);
    session->Start();
    EXPECT_TRUE(session->WaitFor(
        [](const ClassMirror& m) { return m.has_snapshot(); }, kWait));
    return session;
  }

  std::unique_ptr<InstructorSession> Instruct() {
    auto session = std::make_unique<InstructorSession>(
        direct_, kInstructorKey, class_.class_id(), FastRetry());
    session->Start();
    EXPECT_TRUE(session->WaitFor(
        [](const ClassMirror& m) { return m.has_snapshot(); }, kWait));
    return session;
  }

  static SessionOptions FastRetry() {
    SessionOptions options;
    options.backoff_initial = absl::Milliseconds(20);
    options.backoff_max = absl::Milliseconds(200);
    options.clock_samples = 1;
    return options;
  }

  static v1::InstructorCommand Command(const std::string& name) {
    v1::InstructorCommand command;
    if (name == "start") command.mutable_start();
    if (name == "next") command.mutable_next();
    if (name == "pause") command.mutable_pause();
    return command;
  }

  static v1::InstructorCommand Cue(const std::string& text) {
    v1::InstructorCommand command;
    command.mutable_cue()->set_text(text);
    return command;
  }

  // Takes the participant offline: new connections are refused and the open
  // one is cut.
  void GoOffline(LiveSession* session) {
    proxy_->SetRefusing(true);
    proxy_->Cut();
    ASSERT_TRUE(session->WaitForLink(LinkState::kReconnecting, kWait));
  }

  // Starts the class and waits until the participant sees its first set.
  void StartAndWaitForWork(InstructorSession* instructor,
                           ParticipantSession* participant) {
    ASSERT_TRUE(instructor->SendAndWait(Command("start"), kWait).ok());
    ASSERT_TRUE(participant->WaitFor(
        [](const ClassMirror& m) {
          return m.state().current().kind() == v1::INTERVAL_KIND_WORK;
        },
        kWait));
  }

  const v1::RosterEntry* Entry(const ClassMirror& mirror,
                               const std::string& participant_id) {
    for (const auto& e : mirror.roster()) {
      if (e.participant_id() == participant_id) return &e;
    }
    return nullptr;
  }

  // Outlives server_, which may run on it.
  FakeClock server_clock_{absl::FromUnixMillis(kServerNowMs)};
  std::unique_ptr<CircuitLibrary> library_;
  std::unique_ptr<CircuitServer> server_;
  std::unique_ptr<testing::TcpProxy> proxy_;
  std::shared_ptr<Connection> direct_;
  v1::ClassInfo class_;
};

TEST(ClockSampleTest, OffsetAndDelayFromFourTimestamps) {
  // Server 1000 ms ahead; 10 ms each way; the server took 2 ms.
  ClockSample sample = SampleFromTimestamps(5000, 6010, 6012, 5022);
  EXPECT_EQ(sample.offset_ms, 1000);
  EXPECT_EQ(sample.delay_ms, 20);
}

// Both clocks are fake and stand still, so every sample has no delay and
// its offset is exactly the skew.
TEST_F(LiveSessionTest, ClockOffsetIsTheSkewBetweenFakeClocks) {
  StartServer(ServerOptions(), &server_clock_);
  for (int64_t skew_ms : {int64_t{0}, int64_t{30'000}, int64_t{-1'234}}) {
    FakeClock client_clock(absl::FromUnixMillis(kServerNowMs - skew_ms));
    auto sample =
        Connect(server_->port(), &client_clock)->EstimateClockOffset(5);
    ASSERT_TRUE(sample.ok()) << sample.status();
    EXPECT_EQ(sample->offset_ms, skew_ms);
    EXPECT_EQ(sample->delay_ms, 0);
  }

  // A session on a clock 30 s behind shows the server's time anyway.
  FakeClock behind(absl::FromUnixMillis(kServerNowMs - 30'000));
  KioskSession kiosk(Connect(server_->port(), &behind), kKioskKey,
                     class_.class_id(), FastRetry());
  kiosk.Start();
  ASSERT_TRUE(kiosk.WaitForLink(LinkState::kLive, kWait));
  EXPECT_EQ(kiosk.Status().clock_offset_ms, 30'000);
  EXPECT_EQ(kiosk.ServerNowMs(), server_clock_.NowUnixMs());
}

// Three samples with round trips of 40, 4 and 20 ms on the client's clock
// (the server's stands still): the estimate is the 4 ms one's, which puts
// the server's reading at the middle of that round trip.
TEST_F(LiveSessionTest, ClockOffsetComesFromTheLeastDelayedSample) {
  StartServer(ServerOptions(), &server_clock_);
  constexpr int64_t kSkewMs = 30'000;
  constexpr int64_t kClientMs = kServerNowMs - kSkewMs;
  // t0 and t3 of each sample in turn.
  ScriptedClock client_clock({kClientMs, kClientMs + 40,         //
                              kClientMs + 100, kClientMs + 104,  //
                              kClientMs + 200, kClientMs + 220});
  auto sample = Connect(server_->port(), &client_clock)->EstimateClockOffset(3);
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(client_clock.reads(), 6u);
  EXPECT_EQ(sample->delay_ms, 4);
  // kServerNowMs - (t0 + t3) / 2 with t0 = kClientMs + 100, t3 = t0 + 4.
  EXPECT_EQ(sample->offset_ms, kSkewMs - 102);
}

TEST_F(LiveSessionTest, ResumesAfterACutWithoutLosingEvents) {
  auto instructor = Instruct();
  auto participant = JoinThroughProxy("Ana");
  ASSERT_TRUE(instructor->SendAndWait(Command("start"), kWait).ok());
  ASSERT_TRUE(participant->WaitFor(
      [](const ClassMirror& m) {
        return m.state().phase() == v1::CLASS_PHASE_RUNNING;
      },
      kWait));
  auto reps = participant->ReportReps(9);
  ASSERT_TRUE(reps.ok()) << reps.status();
  ASSERT_TRUE(participant->WaitFor(
      [](const ClassMirror& m) { return m.own_progress().total_reps() == 9; },
      kWait));
  const std::string participant_id = participant->Mirror().participant_id();
  const std::string token = participant->ResumeToken();

  GoOffline(participant.get());
  ASSERT_TRUE(instructor->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e = Entry(m, participant_id);
        return e && e->connection() == v1::CONNECTION_STATE_DROPPED;
      },
      kWait));
  // What happens while the participant is away.
  ASSERT_TRUE(instructor->SendAndWait(Command("next"), kWait).ok());
  ASSERT_TRUE(instructor->SendAndWait(Cue("Squeeze at the top"), kWait).ok());
  proxy_->SetRefusing(false);

  ASSERT_TRUE(participant->WaitFor(
      [](const ClassMirror& m) {
        return m.state().current().index() == 1 && !m.recent_cues().empty() &&
               m.recent_cues().back().text() == "Squeeze at the top";
      },
      kWait));
  ASSERT_TRUE(participant->WaitForLink(LinkState::kLive, kWait));
  SessionStatus status = participant->Status();
  EXPECT_GE(status.reconnects, 1);
  EXPECT_EQ(status.resume_snapshots, 0) << "missed events were replayed";
  ClassMirror mirror = participant->Mirror();
  EXPECT_EQ(mirror.participant_id(), participant_id);
  EXPECT_EQ(participant->ResumeToken(), token) << "same seat";
  EXPECT_EQ(mirror.own_progress().total_reps(), 9);
  EXPECT_TRUE(instructor->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e = Entry(m, participant_id);
        return m.roster().size() == 1 && e &&
               e->connection() == v1::CONNECTION_STATE_CONNECTED;
      },
      kWait));
}

TEST_F(LiveSessionTest, QueuedReportsAreDeliveredOnce) {
  auto instructor = Instruct();
  auto participant = JoinThroughProxy("Bea");
  StartAndWaitForWork(instructor.get(), participant.get());
  const std::string participant_id = participant->Mirror().participant_id();

  GoOffline(participant.get());
  auto reps = participant->ReportReps(8);
  auto effort = participant->ReportEffort(v1::EFFORT_FEEL_TOO_HARD);
  auto symptom = participant->ReportSymptom(v1::SYMPTOM_HIP_PINCH);
  ASSERT_TRUE(reps.ok() && effort.ok() && symptom.ok());
  EXPECT_EQ(participant->PendingReports(), 3);
  EXPECT_FALSE(participant->Ack(*reps).has_value());

  proxy_->SetRefusing(false);
  ASSERT_TRUE(participant->WaitForAllAcked(kWait));
  for (const std::string& id : {*reps, *effort, *symptom}) {
    auto ack = participant->Ack(id);
    ASSERT_TRUE(ack.has_value()) << id;
    EXPECT_EQ(ack->code(), 0) << ack->message();
  }
  ASSERT_TRUE(instructor->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e = Entry(m, participant_id);
        return e && e->progress().symptoms_size() == 1;
      },
      kWait));
  ClassMirror final_view = instructor->Mirror();
  const v1::RosterEntry* e = Entry(final_view, participant_id);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->progress().total_reps(), 8);
  EXPECT_EQ(e->progress().last_feel(), v1::EFFORT_FEEL_TOO_HARD);
  EXPECT_EQ(participant->Mirror().own_progress().total_reps(), 8);
}

TEST_F(LiveSessionTest, AReportCutInFlightIsCountedOnce) {
  auto instructor = Instruct();
  auto participant = JoinThroughProxy("Cleo");
  StartAndWaitForWork(instructor.get(), participant.get());
  const std::string participant_id = participant->Mirror().participant_id();
  // Sent, then the connection is cut before (or after) the ack arrives:
  // either way it is resent with the same id and counted once.
  auto reps = participant->ReportReps(10);
  ASSERT_TRUE(reps.ok());
  proxy_->Cut();
  auto ack = participant->WaitForAck(*reps, kWait);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->code(), 0) << ack->message();
  ASSERT_TRUE(participant->WaitForLink(LinkState::kLive, kWait));
  // A later report flushes the instructor's view past the first one.
  ASSERT_TRUE(instructor->SendAndWait(Cue("fence"), kWait).ok());
  ASSERT_TRUE(participant->WaitFor(
      [](const ClassMirror& m) {
        return !m.recent_cues().empty() &&
               m.recent_cues().back().text() == "fence";
      },
      kWait));
  EXPECT_EQ(participant->Mirror().own_progress().total_reps(), 10);
  ASSERT_TRUE(instructor->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e = Entry(m, participant_id);
        return e && e->progress().total_reps() == 10 &&
               e->connection() == v1::CONNECTION_STATE_CONNECTED;
      },
      kWait));
  ClassMirror final_view = instructor->Mirror();
  const v1::RosterEntry* e = Entry(final_view, participant_id);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->progress().total_reps(), 10);
}

TEST_F(LiveSessionTest, TheQueueIsBounded) {
  SessionOptions options = FastRetry();
  options.max_queued_reports = 2;
  auto participant = JoinThroughProxy("Dee", options);
  GoOffline(participant.get());
  EXPECT_TRUE(participant->ReportEffort(v1::EFFORT_FEEL_JUST_RIGHT).ok());
  EXPECT_TRUE(participant->ReportCr10(5).ok());
  auto third = participant->ReportCr10(6);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  v1::JoinClassRequest not_a_report;
  not_a_report.mutable_leave();
  EXPECT_EQ(participant->Submit(not_a_report).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LiveSessionTest, ResumeOutsideRetentionGetsASnapshot) {
  ServerOptions options;
  options.registry.session.retention_events = 8;
  StartServer(options);
  auto instructor = Instruct();
  auto participant = JoinThroughProxy("Eve");
  GoOffline(participant.get());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        instructor->SendAndWait(Cue(absl::StrCat("cue ", i)), kWait).ok());
  }
  proxy_->SetRefusing(false);
  ASSERT_TRUE(participant->WaitFor(
      [](const ClassMirror& m) {
        return !m.recent_cues().empty() &&
               m.recent_cues().back().text() == "cue 19";
      },
      kWait));
  EXPECT_EQ(participant->Status().resume_snapshots, 1);
  EXPECT_EQ(participant->Mirror().recent_cues().size(), 10u);
}

TEST_F(LiveSessionTest, ReportsWaitForTheClassState) {
  proxy_->SetRefusing(true);
  v1::CheckIn check_in;
  check_in.set_display_name("Hal");
  ParticipantSession offline(Connect(proxy_->port()), class_.join_code(),
                             check_in, FastRetry());
  offline.Start();
  // Without the class's state there is no block to report about.
  EXPECT_EQ(offline.ReportReps(9).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(offline.ReportEffort(v1::EFFORT_FEEL_JUST_RIGHT).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(offline.PendingReports(), 0);
}

TEST_F(LiveSessionTest, RefusalsAreFinal) {
  v1::CheckIn check_in;
  check_in.set_display_name("Fay");
  ParticipantSession wrong_code(direct_, "ZZZZZZ", check_in, FastRetry());
  wrong_code.Start();
  ASSERT_TRUE(wrong_code.WaitForLink(LinkState::kFailed, kWait));
  EXPECT_EQ(wrong_code.Status().error.code(), absl::StatusCode::kNotFound);

  KioskSession wrong_key(direct_, "not-the-key", class_.class_id(),
                         FastRetry());
  wrong_key.Start();
  ASSERT_TRUE(wrong_key.WaitForLink(LinkState::kFailed, kWait));
  EXPECT_EQ(wrong_key.Status().error.code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(LiveSessionTest, CommandsReportTheirOutcome) {
  auto instructor = Instruct();
  auto paused = instructor->SendAndWait(Command("pause"), kWait);
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kFailedPrecondition);
  auto started = instructor->SendAndWait(Command("start"), kWait);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_GT(started->seq(), 0);
  EXPECT_EQ(instructor->Mirror().state().phase(), v1::CLASS_PHASE_RUNNING);
  instructor->Stop();
  EXPECT_EQ(instructor->Send(Command("next")).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(LiveSessionTest, LeavingClosesTheSession) {
  auto instructor = Instruct();
  auto participant = JoinThroughProxy("Gia");
  const std::string id = participant->Mirror().participant_id();
  participant->Leave();
  ASSERT_TRUE(participant->WaitForLink(LinkState::kClosed, kWait));
  EXPECT_TRUE(instructor->WaitFor(
      [&](const ClassMirror& m) {
        const v1::RosterEntry* e = Entry(m, id);
        return e && e->connection() == v1::CONNECTION_STATE_LEFT;
      },
      kWait));
}

TEST_F(LiveSessionTest, KioskReconnectsAfterACut) {
  // The kiosk reconnects and resumes on its own.
  KioskSession kiosk(Connect(proxy_->port()), kKioskKey, class_.class_id(),
                     FastRetry());
  kiosk.Start();
  ASSERT_TRUE(kiosk.WaitForLink(LinkState::kLive, kWait));
  GoOffline(&kiosk);
  proxy_->SetRefusing(false);
  ASSERT_TRUE(kiosk.WaitForLink(LinkState::kLive, kWait));
  EXPECT_GE(kiosk.Status().reconnects, 1);
  EXPECT_EQ(kiosk.Mirror().class_info().class_id(), class_.class_id());
}

}  // namespace
}  // namespace circuit::client
