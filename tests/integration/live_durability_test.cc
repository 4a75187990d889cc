// Classes survive a restart: a real in-process circuitd journaling to SQLite
// in a temporary directory, stopped and started again on the same data.

#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/journal/journal.h"
#include "tests/integration/live_harness.h"
#include "tests/testing/subprocess.h"

namespace circuit::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::JoinClassRequest Symptom(const std::string& id, v1::Symptom symptom,
                             const std::string& text = "") {
  v1::JoinClassRequest request;
  request.mutable_symptom()->set_report_id(id);
  request.mutable_symptom()->set_block_index(0);
  request.mutable_symptom()->set_symptom(symptom);
  request.mutable_symptom()->set_other_text(text);
  return request;
}

v1::JoinClassRequest Effort(const std::string& id, int cr10) {
  v1::JoinClassRequest request;
  request.mutable_effort()->set_report_id(id);
  request.mutable_effort()->set_block_index(0);
  request.mutable_effort()->set_cr10(cr10);
  return request;
}

// The raw bytes of a file ("" when it is missing).
std::string ReadFile(const std::string& path) {
  std::string bytes;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return bytes;
  char buffer[65536];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) {
    bytes.append(buffer, n);
  }
  std::fclose(f);
  return bytes;
}

// The second ack of `report_id` (the answer to a retry), once it came.
std::optional<v1::ReportAck> SecondAck(ParticipantClient& client,
                                       const std::string& report_id) {
  std::optional<v1::ReportAck> second;
  client.in.WaitFor([&](const auto& all) {
    int acks = 0;
    for (const auto& m : all) {
      if (m.has_ack() && m.ack().report_id() == report_id && ++acks == 2) {
        second = m.ack();
      }
    }
    return second.has_value();
  });
  return second;
}

const v1::RosterEntry* RosterEntry(const v1::InstructorSnapshot& snapshot,
                                   const std::string& participant_id) {
  for (const v1::RosterEntry& e : snapshot.roster()) {
    if (e.participant_id() == participant_id) return &e;
  }
  return nullptr;
}

class LiveDurabilityTest : public ::testing::Test {
 protected:
  LiveDurabilityTest()
      : data_dir_(MakeTempDir()),
        server_(LiveServer::SqliteOptions(data_dir_)) {}

  v1::ClassInfo StartedClass(InstructorClient** instructor_out = nullptr) {
    v1::ClassInfo info = server_.CreateClass("kickback-trio");
    instructor_ = server_.Instruct(info.class_id());
    EXPECT_EQ(
        instructor_->Send(Cmd([](auto* c) { c->mutable_start(); })).code(), 0);
    if (instructor_out != nullptr) *instructor_out = instructor_.get();
    return info;
  }

  v1::ClassSummary Summary(const std::string& class_id) {
    v1::GetClassSummaryRequest request;
    request.set_class_id(class_id);
    v1::ClassSummary summary;
    grpc::Status status = server_.stub()->GetClassSummary(
        Context(kInstructorKey).get(), request, &summary);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return summary;
  }

  void End() {
    ASSERT_EQ(instructor_->Send(Cmd([](auto* c) { c->mutable_end(); })).code(),
              0);
  }

  const std::string data_dir_;
  LiveServer server_;
  std::unique_ptr<InstructorClient> instructor_;
};

TEST_F(LiveDurabilityTest, RestartKeepsSeatsReportsAndPausesTheClass) {
  v1::ClassInfo info = StartedClass();
  auto dana = server_.Join(info.join_code(), "Dana");
  ASSERT_EQ(dana->Report(Completion("r1", 0, 1, v1::SIDE_LEFT, 9), "r1").code(),
            0);
  ASSERT_EQ(dana->Report(Symptom("s1", v1::SYMPTOM_HIP_PINCH), "s1").code(), 0);
  const v1::ReportAck first =
      dana->Report(Completion("r2", 0, 1, v1::SIDE_RIGHT, 8), "r2");
  ASSERT_EQ(first.code(), 0);
  const int64_t seen = dana->LastSeq();
  const std::string token = dana->resume_token;
  instructor_.reset();
  dana.reset();

  server_.Restart();

  // The class is back, paused at its interval, with a cue saying why.
  v1::InstructorSnapshot snapshot = FreshSnapshot(server_, info.class_id());
  EXPECT_EQ(snapshot.state().phase(), v1::CLASS_PHASE_PAUSED);
  ASSERT_GT(snapshot.recent_cues_size(), 0);
  EXPECT_THAT(snapshot.recent_cues(snapshot.recent_cues_size() - 1).text(),
              HasSubstr("restarted"));
  const v1::RosterEntry* entry = RosterEntry(snapshot, "p1");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->connection(), v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(entry->progress().total_reps(), 17);
  EXPECT_EQ(entry->progress().symptoms_size(), 1);

  // Dana resumes with her token and gets exactly what she missed.
  auto resumed = server_.Resume(token, seen);
  ASSERT_TRUE(resumed->in.WaitFor([&](const auto& all) {
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_cue()) return true;
    }
    return false;
  }));
  int64_t expected = seen + 1;
  for (const auto& m : resumed->in.messages()) {
    EXPECT_FALSE(m.has_snapshot()) << "a resume inside retention replays";
    if (m.has_event()) {
      EXPECT_GE(m.event().seq(), expected) << "a missed event came twice";
      expected = m.event().seq() + 1;
    }
  }
  // A retry after the restart is a duplicate: the same ack, counted once.
  v1::ReportAck again =
      resumed->Report(Completion("r2", 0, 1, v1::SIDE_RIGHT, 8), "r2");
  EXPECT_EQ(again.code(), 0);
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.seq(), first.seq());
  snapshot = FreshSnapshot(server_, info.class_id());
  entry = RosterEntry(snapshot, "p1");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->progress().total_reps(), 17);
  EXPECT_EQ(entry->connection(), v1::CONNECTION_STATE_CONNECTED);
}

// A drain while reports and unary calls are in flight: every unary call is
// answered (or ends UNAVAILABLE or CANCELLED), nothing hangs the shutdown
// (the class actors' last answers land before the shards stop), and every
// report that was acked is still recorded after the restart.
TEST_F(LiveDurabilityTest, ADrainWithCallsInFlightAnswersThemAndKeepsEveryAck) {
  v1::ClassInfo info = StartedClass();
  auto dana = server_.Join(info.join_code(), "Dana");
  const std::string token = dana->resume_token;

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<grpc::StatusCode> unexpected;
  std::thread caller([&] {
    v1::GetClassRequest request;
    request.set_class_id(info.class_id());
    while (!stop.load()) {
      v1::GetClassResponse response;
      grpc::Status status = server_.stub()->GetClass(
          Context(kInstructorKey).get(), request, &response);
      if (status.ok()) {
        answered.fetch_add(1);
      } else if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
                 status.error_code() != grpc::StatusCode::CANCELLED) {
        unexpected.push_back(status.error_code());
      }
    }
  });
  // Reports sent without waiting for their acks, then the drain.
  constexpr int kReports = 30;
  for (int i = 0; i < kReports; ++i) {
    const std::string id = absl::StrCat("r", i);
    dana->stream->Write(Completion(id, 0, 1 + i % 2,
                                   i % 4 < 2 ? v1::SIDE_LEFT : v1::SIDE_RIGHT,
                                   8 + i % 3));
  }
  ASSERT_TRUE(dana->in.WaitFor([](const auto& all) {
    for (const auto& m : all) {
      if (m.has_ack()) return true;
    }
    return false;
  }));
  // The unary calls are flowing before the drain begins (on a loaded
  // machine the caller's first call can take a while).
  const absl::Time flowing = absl::Now() + absl::Seconds(20);
  while (answered.load() == 0 && absl::Now() < flowing) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  server_.server()->Shutdown(absl::Now() + absl::Seconds(5));
  stop.store(true);
  caller.join();
  EXPECT_GT(answered.load(), 0);
  EXPECT_THAT(unexpected, ::testing::IsEmpty());
  dana->in.WaitDone();
  std::vector<v1::ReportAck> acked;
  for (const auto& m : dana->in.messages()) {
    if (m.has_ack() && m.ack().code() == 0) acked.push_back(m.ack());
  }
  ASSERT_FALSE(acked.empty());
  instructor_.reset();
  dana.reset();

  server_.Restart();
  auto resumed = server_.Resume(token, 0);
  for (const v1::ReportAck& ack : acked) {
    const int i = std::stoi(ack.report_id().substr(1));
    v1::ReportAck again = resumed->Report(
        Completion(ack.report_id(), 0, 1 + i % 2,
                   i % 4 < 2 ? v1::SIDE_LEFT : v1::SIDE_RIGHT, 8 + i % 3),
        ack.report_id());
    EXPECT_EQ(again.code(), 0) << again.message();
    EXPECT_TRUE(again.duplicate()) << ack.report_id() << " was acked and lost";
    EXPECT_EQ(again.seq(), ack.seq());
  }
}

TEST_F(LiveDurabilityTest, EndedClassesStayListedAndSummarized) {
  v1::ClassInfo info = StartedClass();
  auto dana = server_.Join(info.join_code(), "Dana", /*show_name=*/true);
  auto hidden = server_.Join(info.join_code(), "Private", /*show_name=*/false);
  ASSERT_EQ(dana->Report(Completion("a", 0, 1, v1::SIDE_LEFT, 10), "a").code(),
            0);
  ASSERT_EQ(dana->Report(Completion("b", 0, 1, v1::SIDE_RIGHT, 7), "b").code(),
            0);
  ASSERT_EQ(dana->Report(Effort("e", 9), "e").code(), 0);
  ASSERT_EQ(
      hidden->Report(Symptom("s", v1::SYMPTOM_LEAKING, "after jumps"), "s")
          .code(),
      0);
  End();
  instructor_.reset();
  dana.reset();
  hidden.reset();

  server_.Restart();

  v1::ListClassesRequest list;
  list.set_include_ended(true);
  v1::ListClassesResponse listed;
  ASSERT_TRUE(server_.stub()
                  ->ListClasses(Context(kInstructorKey).get(), list, &listed)
                  .ok());
  ASSERT_EQ(listed.classes_size(), 1);
  EXPECT_EQ(listed.classes(0).class_id(), info.class_id());
  EXPECT_EQ(listed.classes(0).phase(), v1::CLASS_PHASE_ENDED);
  list.set_include_ended(false);
  ASSERT_TRUE(server_.stub()
                  ->ListClasses(Context(kInstructorKey).get(), list, &listed)
                  .ok());
  EXPECT_EQ(listed.classes_size(), 0);

  v1::ClassSummary summary = Summary(info.class_id());
  ASSERT_EQ(summary.participants_size(), 2);
  const v1::ParticipantSummary& d = summary.participants(0);
  EXPECT_EQ(d.check_in().display_name(), "Dana");
  EXPECT_EQ(d.total_reps(), 17);
  ASSERT_GE(d.exercises_size(), 1);
  EXPECT_EQ(d.exercises(0).left_reps(), 10);
  EXPECT_EQ(d.exercises(0).right_reps(), 7);
  ASSERT_EQ(d.efforts_size(), 1);
  EXPECT_EQ(d.efforts(0).cr10(), 9);
  EXPECT_GE(d.suggestions_size(), 1);
  ASSERT_EQ(summary.participants(1).symptoms_size(), 1);
  EXPECT_EQ(summary.participants(1).symptoms(0).symptom(), v1::SYMPTOM_LEAKING);

  // The wall: consenting names and reps only.
  v1::GetWallSummaryRequest wall_request;
  wall_request.set_class_id(info.class_id());
  v1::WallSummary wall;
  ASSERT_TRUE(
      server_.stub()
          ->GetWallSummary(Context(kKioskKey).get(), wall_request, &wall)
          .ok());
  ASSERT_EQ(wall.wall_size(), 1);
  EXPECT_EQ(wall.wall(0).display_name(), "Dana");
  EXPECT_THAT(wall.SerializeAsString(), Not(HasSubstr("after jumps")));
  // The summary itself is the instructor's only.
  v1::GetClassSummaryRequest summary_request;
  summary_request.set_class_id(info.class_id());
  v1::ClassSummary refused;
  EXPECT_EQ(
      server_.stub()
          ->GetClassSummary(Context(kKioskKey).get(), summary_request, &refused)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);

  v1::GetClassRequest get;
  get.set_class_id(info.class_id());
  v1::GetClassResponse got;
  ASSERT_TRUE(server_.stub()->GetClass(Context().get(), get, &got).ok());
  EXPECT_EQ(got.class_info().phase(), v1::CLASS_PHASE_ENDED);
}

TEST_F(LiveDurabilityTest, ErasedHealthDataLeavesNoBytesOnDisk) {
  const std::string marker = "zebra-knee-pain-4417";
  v1::ClassInfo info = StartedClass();
  auto dana = server_.Join(info.join_code(), "Dana");
  ASSERT_EQ(dana->Report(Completion("a", 0, 1, v1::SIDE_LEFT, 9), "a").code(),
            0);
  ASSERT_EQ(dana->Report(Symptom("s", v1::SYMPTOM_OTHER, marker), "s").code(),
            0);
  // Before the end, erasing is refused: the live class still needs it.
  v1::EraseHealthDataRequest erase;
  erase.set_class_id(info.class_id());
  erase.set_participant_id(dana->participant_id);
  v1::EraseHealthDataResponse erased;
  EXPECT_EQ(server_.stub()
                ->EraseHealthData(Context(kInstructorKey).get(), erase, &erased)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  End();
  ASSERT_TRUE(
      server_.stub()
          ->EraseHealthData(Context(kInstructorKey).get(), erase, &erased)
          .ok());
  v1::ClassSummary summary = Summary(info.class_id());
  ASSERT_EQ(summary.participants_size(), 1);
  EXPECT_TRUE(summary.participants(0).health_data_removed());
  EXPECT_EQ(summary.participants(0).symptoms_size(), 0);
  EXPECT_EQ(summary.participants(0).total_reps(), 9);
  instructor_.reset();
  dana.reset();
  server_.Restart();
  for (const char* file : {"/circuit.db", "/circuit.db-wal"}) {
    EXPECT_THAT(ReadFile(data_dir_ + file), Not(HasSubstr(marker))) << file;
  }
  summary = Summary(info.class_id());
  ASSERT_EQ(summary.participants_size(), 1);
  EXPECT_TRUE(summary.participants(0).health_data_removed());
  EXPECT_EQ(summary.participants(0).total_reps(), 9);
}

int Purge(LiveServer& server) {
  absl::Notification done;
  int purged = -1;
  server.server()->registry()->PurgeExpiredHealthData([&](int n) {
    purged = n;
    done.Notify();
  });
  done.WaitForNotification();
  return purged;
}

TEST(LiveRetentionTest, HealthDataOfClassesPastRetentionIsPurged) {
  const std::string marker = "otter-back-ache-9921";
  const std::string data_dir = MakeTempDir();
  FakeClock clock(absl::Now());
  LiveServer server(LiveServer::SqliteOptions(data_dir), &clock);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  auto dana = server.Join(info.join_code(), "Dana");
  ASSERT_EQ(dana->Report(Completion("a", 0, 1, v1::SIDE_LEFT, 9), "a").code(),
            0);
  ASSERT_EQ(dana->Report(Effort("e", 6), "e").code(), 0);
  ASSERT_EQ(dana->Report(Symptom("s", v1::SYMPTOM_OTHER, marker), "s").code(),
            0);
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_end(); })).code(), 0);

  clock.Advance(absl::Hours(24 * 29));
  EXPECT_EQ(Purge(server), 0) << "inside the 30 days, nothing goes";
  clock.Advance(absl::Hours(24 * 2));
  EXPECT_EQ(Purge(server), 1);
  EXPECT_EQ(Purge(server), 0) << "a purged class is not purged again";

  v1::GetClassSummaryRequest request;
  request.set_class_id(info.class_id());
  v1::ClassSummary summary;
  ASSERT_TRUE(
      server.stub()
          ->GetClassSummary(Context(kInstructorKey).get(), request, &summary)
          .ok());
  ASSERT_EQ(summary.participants_size(), 1);
  EXPECT_TRUE(summary.participants(0).health_data_removed());
  EXPECT_EQ(summary.participants(0).efforts_size(), 0);
  EXPECT_EQ(summary.participants(0).symptoms_size(), 0);
  EXPECT_EQ(summary.participants(0).total_reps(), 9) << "reps stay";
  for (const char* file : {"/circuit.db", "/circuit.db-wal"}) {
    EXPECT_THAT(ReadFile(data_dir + file), Not(HasSubstr(marker))) << file;
  }
}

TEST_F(LiveDurabilityTest, SecondServerOnTheSameDataIsRefused) {
  auto library = CircuitLibrary::LoadEmbedded();
  ASSERT_TRUE(library.ok());
  auto second = CircuitServer::Start(LiveServer::SqliteOptions(data_dir_),
                                     &*library, Clock::Real());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("another circuitd"));
}

// A journal that cannot commit: the input is refused UNAVAILABLE, nothing
// changes, everyone else is still served, and the retry counts once.
TEST(LiveJournalFaultTest, FailedCommitAcksNothingAndTheRetryCountsOnce) {
  auto journal = std::make_shared<InMemoryJournal>();
  ServerOptions options = LiveServer::DefaultOptions();
  options.journal_instance = journal;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  auto dana = server.Join(info.join_code(), "Dana");

  journal->FailWritesWith(absl::UnavailableError("disk full"));
  v1::ReportAck refused =
      dana->Report(Completion("r", 0, 1, v1::SIDE_LEFT, 9), "r");
  EXPECT_EQ(refused.code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.message(), HasSubstr("disk full"));
  v1::CommandResult command =
      instructor->Send(Cmd([](auto* c) { c->mutable_pause(); }));
  EXPECT_EQ(command.code(), grpc::StatusCode::UNAVAILABLE);
  // Readers keep being served meanwhile.
  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  EXPECT_EQ(snapshot.state().phase(), v1::CLASS_PHASE_RUNNING);
  ASSERT_NE(RosterEntry(snapshot, dana->participant_id), nullptr);
  EXPECT_EQ(
      RosterEntry(snapshot, dana->participant_id)->progress().total_reps(), 0);

  journal->FailWritesWith(absl::OkStatus());
  ASSERT_TRUE(dana->stream->Write(Completion("r", 0, 1, v1::SIDE_LEFT, 9)));
  std::optional<v1::ReportAck> retried = SecondAck(*dana, "r");
  ASSERT_TRUE(retried.has_value());
  EXPECT_EQ(retried->code(), 0);
  EXPECT_FALSE(retried->duplicate()) << "the failed attempt counted";
  snapshot = FreshSnapshot(server, info.class_id());
  EXPECT_EQ(
      RosterEntry(snapshot, dana->participant_id)->progress().total_reps(), 9);
}

// Another process holds the database's write lock (say, someone left a
// sqlite3 shell in a transaction): nothing is acked until it lets go, then
// the retry counts once.
TEST(LiveSqliteFaultTest, ALockedDatabaseAcksNothingUntilItIsFree) {
  const std::string data_dir = MakeTempDir();
  ServerOptions options = LiveServer::SqliteOptions(data_dir);
  options.journal_busy_timeout_ms = 50;
  LiveServer server(options);
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  ASSERT_EQ(instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
            0);
  auto dana = server.Join(info.join_code(), "Dana");

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((data_dir + "/circuit.db").c_str(), &other),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  v1::ReportAck refused =
      dana->Report(Completion("r", 0, 1, v1::SIDE_LEFT, 9), "r");
  EXPECT_EQ(refused.code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.message(), HasSubstr("locked"));
  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  ASSERT_NE(RosterEntry(snapshot, dana->participant_id), nullptr);
  EXPECT_EQ(
      RosterEntry(snapshot, dana->participant_id)->progress().total_reps(), 0);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);

  ASSERT_TRUE(dana->stream->Write(Completion("r", 0, 1, v1::SIDE_LEFT, 9)));
  std::optional<v1::ReportAck> retried = SecondAck(*dana, "r");
  ASSERT_TRUE(retried.has_value());
  EXPECT_EQ(retried->code(), 0) << retried->message();
  EXPECT_FALSE(retried->duplicate());
  snapshot = FreshSnapshot(server, info.class_id());
  EXPECT_EQ(
      RosterEntry(snapshot, dana->participant_id)->progress().total_reps(), 9);
}

}  // namespace
}  // namespace circuit::testing
