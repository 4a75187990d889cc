// Health data at rest: a real in-process circuitd journaling to SQLite keeps
// no symptom text and no effort in its database file, its WAL or an online
// backup of it, and still shows them to the instructor after a restart.

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "circuit/internal/journal.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"
#include "tests/testing/subprocess.h"

namespace circuit::testing {
namespace {

// Distinctive texts, to look for in the raw bytes.
const char* const kSymptomTexts[] = {"zq-leak-marker-7", "zq-heavy-marker-8",
                                     "zq-pull-marker-9"};
constexpr char kRepsMarker[] = "zq-reps-marker-1";

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

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Copies the live database with SQLite's online backup API, as an operator's
// backup job would (the sqlite3 CLI's .backup uses the same API).
absl::Status Backup(const std::string& from, const std::string& to) {
  sqlite3* source = nullptr;
  sqlite3* dest = nullptr;
  absl::Status status;
  if (sqlite3_open_v2(from.c_str(), &source, SQLITE_OPEN_READONLY, nullptr) !=
          SQLITE_OK ||
      sqlite3_open(to.c_str(), &dest) != SQLITE_OK) {
    status = absl::UnavailableError("cannot open the backup's files");
  } else if (sqlite3_backup* backup =
                 sqlite3_backup_init(dest, "main", source, "main");
             backup == nullptr) {
    status = absl::UnavailableError(sqlite3_errmsg(dest));
  } else {
    int rc;
    while ((rc = sqlite3_backup_step(backup, -1)) == SQLITE_OK ||
           rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    }
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) status = absl::UnavailableError(sqlite3_errstr(rc));
  }
  sqlite3_close(source);
  sqlite3_close(dest);
  return status;
}

v1::JoinClassRequest SymptomRequest(const std::string& id,
                                    const std::string& text) {
  v1::JoinClassRequest request;
  request.mutable_symptom()->set_report_id(id);
  request.mutable_symptom()->set_symptom(v1::SYMPTOM_OTHER);
  request.mutable_symptom()->set_other_text(text);
  return request;
}

v1::JoinClassRequest EffortRequest(const std::string& id, int cr10,
                                   v1::EffortFeel feel) {
  v1::JoinClassRequest request;
  request.mutable_effort()->set_report_id(id);
  request.mutable_effort()->set_cr10(cr10);
  request.mutable_effort()->set_feel(feel);
  return request;
}

// A class with three participants, each reporting reps, an effort and a
// symptom; the bytes their health reports would have as stored in the clear
// (the journal's ReportInput and the v1 messages inside it) are collected.
struct ReportedClass {
  v1::ClassInfo info;
  std::unique_ptr<InstructorClient> instructor;
  std::vector<std::unique_ptr<ParticipantClient>> participants;
  std::vector<std::string> forbidden;  // health data as plaintext bytes
  std::vector<std::string> plain;      // non-health bytes, stored as they are
};

void RunClass(LiveServer& server, const std::string& tag, ReportedClass* out) {
  out->info = server.CreateClass("kickback-trio");
  out->instructor = server.Instruct(out->info.class_id());
  ASSERT_EQ(
      out->instructor->Send(Cmd([](auto* c) { c->mutable_start(); })).code(),
      0);
  const v1::EffortFeel feels[] = {v1::EFFORT_FEEL_TOO_EASY,
                                  v1::EFFORT_FEEL_TOO_HARD,
                                  v1::EFFORT_FEEL_JUST_RIGHT};
  for (int i = 0; i < 3; ++i) {
    auto p = server.Join(out->info.join_code(), absl::StrCat("P", tag, i));
    const std::string reps_id = absl::StrCat(kRepsMarker, "-", tag, i);
    const v1::JoinClassRequest reps =
        Completion(reps_id, 0, 1, v1::SIDE_LEFT, 10 + i);
    ASSERT_EQ(p->Report(reps, reps_id).code(), 0);
    const std::string effort_id = absl::StrCat("e-", tag, i);
    const v1::JoinClassRequest effort =
        EffortRequest(effort_id, 3 + 3 * i, feels[i]);
    ASSERT_EQ(p->Report(effort, effort_id).code(), 0);
    const std::string symptom_id = absl::StrCat("s-", tag, i);
    const std::string text = absl::StrCat(kSymptomTexts[i], "-", tag);
    ASSERT_EQ(p->Report(SymptomRequest(symptom_id, text), symptom_id).code(),
              0);

    out->forbidden.push_back(text);
    out->forbidden.push_back(effort.effort().SerializeAsString());
    internal::ReportInput stored;
    stored.set_participant_id(p->participant_id);
    *stored.mutable_effort() = effort.effort();
    out->forbidden.push_back(stored.SerializeAsString());
    stored.Clear();
    stored.set_participant_id(p->participant_id);
    *stored.mutable_symptom() = SymptomRequest(symptom_id, text).symptom();
    out->forbidden.push_back(stored.SerializeAsString());
    // Reps are not health data: their report is stored as it came, which
    // shows the way of spelling a stored report above finds one.
    stored.Clear();
    stored.set_participant_id(p->participant_id);
    *stored.mutable_completion() = reps.completion();
    out->plain.push_back(stored.SerializeAsString());
    out->participants.push_back(std::move(p));
  }
}

v1::ClassSummary SummaryOf(LiveServer& server, const std::string& class_id) {
  v1::GetClassSummaryRequest request;
  request.set_class_id(class_id);
  v1::ClassSummary summary;
  grpc::Status status = server.stub()->GetClassSummary(
      Context(kInstructorKey).get(), request, &summary);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return summary;
}

// The summary's health data as the bytes it would be stored as.
void AddSummaryHealthBytes(const v1::ClassSummary& summary,
                           std::vector<std::string>* forbidden) {
  for (const v1::ParticipantSummary& p : summary.participants()) {
    EXPECT_EQ(p.efforts_size(), 1) << p.participant_id();
    EXPECT_EQ(p.symptoms_size(), 1) << p.participant_id();
    for (const auto& e : p.efforts())
      forbidden->push_back(e.SerializeAsString());
    for (const auto& s : p.symptoms())
      forbidden->push_back(s.SerializeAsString());
    forbidden->push_back(p.SerializeAsString());
  }
}

// The symptom texts and efforts of a summary, for comparing.
std::vector<std::string> HealthOf(const v1::ClassSummary& summary) {
  std::vector<std::string> health;
  for (const v1::ParticipantSummary& p : summary.participants()) {
    for (const auto& e : p.efforts()) {
      health.push_back(absl::StrCat("effort ", e.cr10(), " ", e.feel()));
    }
    for (const auto& s : p.symptoms()) {
      health.push_back(
          absl::StrCat("symptom ", s.symptom(), " ", s.other_text()));
    }
  }
  return health;
}

TEST(LiveAtRestTest, NoHealthDataInTheDatabaseItsWalOrABackup) {
  const std::string data_dir = MakeTempDir();
  ASSERT_FALSE(data_dir.empty());
  LiveServer server(LiveServer::SqliteOptions(data_dir));

  // One class stays open (replayed from its entries after the restart), one
  // ends (its summary is stored).
  ReportedClass open, ended;
  ASSERT_NO_FATAL_FAILURE(RunClass(server, "open", &open));
  ASSERT_NO_FATAL_FAILURE(RunClass(server, "ended", &ended));
  const v1::ClassSummary open_before = SummaryOf(server, open.info.class_id());
  ASSERT_EQ(
      ended.instructor->Send(Cmd([](auto* c) { c->mutable_end(); })).code(), 0);
  const v1::ClassSummary ended_before =
      SummaryOf(server, ended.info.class_id());
  ASSERT_EQ(HealthOf(ended_before).size(), 6u);

  std::vector<std::string> forbidden = open.forbidden;
  forbidden.insert(forbidden.end(), ended.forbidden.begin(),
                   ended.forbidden.end());
  AddSummaryHealthBytes(ended_before, &forbidden);

  // Read while the server runs: the WAL has not been checkpointed into the
  // file, so it holds every write of the test.
  const std::string db = ReadFile(data_dir + "/circuit.db");
  const std::string wal = ReadFile(data_dir + "/circuit.db-wal");
  const absl::Status backed_up =
      Backup(data_dir + "/circuit.db", data_dir + "/backup.db");
  ASSERT_TRUE(backed_up.ok()) << backed_up;
  const std::string backup = ReadFile(data_dir + "/backup.db");
  const struct {
    const char* name;
    const std::string& bytes;
  } files[] = {{"circuit.db", db}, {"circuit.db-wal", wal}, {"backup", backup}};
  for (const auto& file : files) {
    SCOPED_TRACE(file.name);
    for (const std::string& bytes : forbidden) {
      EXPECT_FALSE(Contains(file.bytes, bytes))
          << "health data in the clear: " << ::testing::PrintToString(bytes);
    }
  }
  // The WAL and the backup do hold the class: the reps, stored plain, are
  // there (so the searches above looked at real data).
  for (const std::string& bytes : open.plain) {
    EXPECT_TRUE(Contains(wal, bytes));
    EXPECT_TRUE(Contains(backup, bytes));
  }

  // The key lives apart from the database, private to its owner.
  struct stat st;
  ASSERT_EQ(stat((data_dir + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((data_dir + "/keys/data-1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  open.instructor.reset();
  ended.instructor.reset();
  open.participants.clear();
  ended.participants.clear();
  server.Restart();

  // The instructor still sees every effort and symptom: the open class's
  // from its replayed entries, the ended one's from its stored summary.
  EXPECT_THAT(HealthOf(SummaryOf(server, open.info.class_id())),
              ::testing::ElementsAreArray(HealthOf(open_before)));
  EXPECT_EQ(HealthOf(open_before).size(), 6u);
  EXPECT_THAT(HealthOf(SummaryOf(server, ended.info.class_id())),
              ::testing::ElementsAreArray(HealthOf(ended_before)));
}

TEST(LiveAtRestTest, AKeyFileOthersMayReadStopsTheStart) {
  const std::string data_dir = MakeTempDir();
  ASSERT_FALSE(data_dir.empty());
  ServerOptions options = LiveServer::SqliteOptions(data_dir);
  { LiveServer server(options); }
  ASSERT_EQ(chmod((data_dir + "/keys/data-1.key").c_str(), 0644), 0);
  auto library = CircuitLibrary::LoadEmbedded();
  ASSERT_TRUE(library.ok());
  absl::StatusOr<std::unique_ptr<CircuitServer>> server =
      CircuitServer::Start(options, &*library, Clock::Real());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(), ::testing::HasSubstr("chmod 600"));
}

}  // namespace
}  // namespace circuit::testing
