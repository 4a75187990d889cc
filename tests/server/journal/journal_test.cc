#include "server/journal/journal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "server/journal/sqlite_journal.h"

namespace circuit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Long enough never to be reached by a passing test.
constexpr absl::Duration kDeadline = absl::Seconds(60);

// Distinctive health data, to look for in the raw bytes of the files.
constexpr char kSymptomText[] = "zebra-ankle-pain-7731";
constexpr char kEffortId[] = "effort-marker-5519";
constexpr char kRepsId[] = "reps-marker-2468";

MATCHER_P(EqualsProto, expected, expected.DebugString()) {
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

// A fresh directory under the test temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "journal_test.XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The file's bytes; empty when it does not exist.
std::string ReadBytes(const std::string& path) {
  std::string bytes;
  FILE* file = fopen(path.c_str(), "rb");
  if (file == nullptr) return bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), file)) > 0) bytes.append(buf, n);
  fclose(file);
  return bytes;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// One answer, waited for with a deadline. The callback may outlive the
// waiter.
template <typename T>
class Answer {
 public:
  Answer() : state_(std::make_shared<State>()) {}

  absl::AnyInvocable<void(T)> Callback() {
    return [state = state_](T value) {
      absl::MutexLock lock(&state->mu);
      state->value.emplace(std::move(value));
    };
  }

  // Whether the answer has arrived, without waiting.
  bool Ready() {
    absl::MutexLock lock(&state_->mu);
    return state_->value.has_value();
  }

  T Get() {
    absl::MutexLock lock(&state_->mu);
    if (!state_->mu.AwaitWithTimeout(
            absl::Condition(
                +[](std::optional<T>* value) { return value->has_value(); },
                &state_->value),
            kDeadline)) {
      return T(absl::DeadlineExceededError("the journal never answered"));
    }
    return *state_->value;
  }

 private:
  struct State {
    absl::Mutex mu;
    std::optional<T> value;
  };
  std::shared_ptr<State> state_;
};

// Many answers, labelled, in the order they arrived.
class Answers {
 public:
  JournalDone Add(std::string label) {
    return [this, label = std::move(label)](absl::Status status) {
      absl::MutexLock lock(&mu_);
      labels_.push_back(label);
      statuses_.push_back(std::move(status));
    };
  }

  // Waits until `n` answers have arrived in all; false at the deadline.
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    want_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Answers::Enough),
                                kDeadline);
  }

  std::vector<std::string> labels() {
    absl::MutexLock lock(&mu_);
    return labels_;
  }
  std::vector<absl::Status> statuses() {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return statuses_.size();
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return statuses_.size() >= want_;
  }

  absl::Mutex mu_;
  size_t want_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> labels_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
};

// --- Inputs ------------------------------------------------------------------

internal::ClassRecord Record(const std::string& class_id) {
  internal::ClassRecord record;
  record.mutable_info()->set_class_id(class_id);
  record.mutable_info()->set_title(absl::StrCat("Class ", class_id));
  record.mutable_info()->set_phase(v1::CLASS_PHASE_LOBBY);
  record.mutable_info()->set_created_unix_ms(1000);
  record.mutable_circuit()->set_id("kickback-trio");
  record.mutable_circuit()->set_name("Kickback trio");
  return record;
}

internal::Entry Join(const std::string& participant_id, int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  entry.mutable_join()->set_participant_id(participant_id);
  entry.mutable_join()->mutable_check_in()->set_display_name(participant_id);
  return entry;
}

internal::Entry Completion(const std::string& participant_id,
                           const std::string& report_id, int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  internal::ReportInput* report = entry.mutable_report();
  report->set_participant_id(participant_id);
  report->mutable_completion()->set_report_id(report_id);
  report->mutable_completion()->set_reps(12);
  return entry;
}

internal::Entry Effort(const std::string& participant_id,
                       const std::string& report_id, int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  internal::ReportInput* report = entry.mutable_report();
  report->set_participant_id(participant_id);
  report->mutable_effort()->set_report_id(report_id);
  report->mutable_effort()->set_cr10(7);
  return entry;
}

internal::Entry Symptom(const std::string& participant_id,
                        const std::string& report_id, const std::string& text,
                        int64_t at) {
  internal::Entry entry;
  entry.set_at_unix_ms(at);
  internal::ReportInput* report = entry.mutable_report();
  report->set_participant_id(participant_id);
  report->mutable_symptom()->set_report_id(report_id);
  report->mutable_symptom()->set_symptom(v1::SYMPTOM_OTHER);
  report->mutable_symptom()->set_other_text(text);
  return entry;
}

// The summary of an ended class; with the health data of "ann" or without.
v1::ClassSummary Summary(const std::string& class_id, bool with_health) {
  v1::ClassSummary summary;
  *summary.mutable_class_info() = Record(class_id).info();
  summary.mutable_class_info()->set_phase(v1::CLASS_PHASE_ENDED);
  summary.mutable_class_info()->set_started_unix_ms(2000);
  summary.mutable_class_info()->set_ended_unix_ms(9000);
  summary.set_total_reps(12);
  summary.set_generated_unix_ms(9001);
  v1::ParticipantSummary* ann = summary.add_participants();
  ann->set_participant_id("ann");
  ann->set_total_reps(12);
  if (with_health) {
    ann->add_efforts()->set_cr10(7);
    v1::SymptomRecord* symptom = ann->add_symptoms();
    symptom->set_symptom(v1::SYMPTOM_OTHER);
    symptom->set_other_text(kSymptomText);
  } else {
    ann->set_health_data_removed(true);
  }
  return summary;
}

// --- Blocking helpers
// ----------------------------------------------------------

absl::Status Create(Journal& journal, const std::string& class_id) {
  Answer<absl::Status> answer;
  journal.CreateClass(Record(class_id), answer.Callback());
  return answer.Get();
}

absl::Status AppendNow(Journal& journal, const std::string& class_id,
                       internal::Entry entry) {
  Answer<absl::Status> answer;
  journal.Append(class_id, std::move(entry), answer.Callback());
  return answer.Get();
}

absl::Status End(Journal& journal, const v1::ClassSummary& summary) {
  Answer<absl::Status> answer;
  journal.EndClass(summary, answer.Callback());
  return answer.Get();
}

absl::Status Erase(Journal& journal, const v1::ClassSummary& scrubbed,
                   const std::string& participant_id) {
  Answer<absl::Status> answer;
  journal.EraseHealthData(scrubbed, participant_id, answer.Callback());
  return answer.Get();
}

absl::StatusOr<v1::ClassSummary> Read(Journal& journal,
                                      const std::string& class_id) {
  Answer<absl::StatusOr<v1::ClassSummary>> answer;
  journal.ReadSummary(class_id, answer.Callback());
  return answer.Get();
}

// The at_unix_ms of each entry: the tests number their entries with it.
std::vector<int64_t> Times(
    const absl::StatusOr<std::vector<internal::Entry>>& entries) {
  std::vector<int64_t> times;
  if (!entries.ok()) return times;
  for (const internal::Entry& entry : *entries) {
    times.push_back(entry.at_unix_ms());
  }
  return times;
}

std::vector<std::string> ClassIds(
    const absl::StatusOr<std::vector<StoredClass>>& classes) {
  std::vector<std::string> ids;
  if (!classes.ok()) return ids;
  for (const StoredClass& stored : *classes) {
    ids.push_back(stored.record.info().class_id());
  }
  return ids;
}

// --- Behaviour both journals share ------------------------------------------

struct InMemoryKind {
  static std::unique_ptr<Journal> Make(const std::string&) {
    return std::make_unique<InMemoryJournal>();
  }
};

struct SqliteKind {
  static std::unique_ptr<Journal> Make(const std::string& dir) {
    SqliteJournalOptions options;
    options.path = dir + "/circuit.db";
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(options);
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return nullptr;
    return *std::move(journal);
  }
};

// Fixed test keys: never used outside tests.
std::shared_ptr<const KeyRing> TestKeys(std::vector<uint32_t> ids) {
  std::vector<DataKey> keys;
  for (uint32_t id : ids) {
    keys.push_back(DataKey{
        id, std::string(KeyRing::kKeyBytes, static_cast<char>('a' + id))});
  }
  absl::StatusOr<std::shared_ptr<const KeyRing>> ring =
      KeyRing::Make(std::move(keys));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *ring : nullptr;
}

// The SQLite journal sealing health data, as circuitd runs it.
struct SealedSqliteKind {
  static std::unique_ptr<Journal> Make(const std::string& dir) {
    SqliteJournalOptions options;
    options.path = dir + "/circuit.db";
    options.keys = TestKeys({1});
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(options);
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return nullptr;
    return *std::move(journal);
  }
};

class KindNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, InMemoryKind>) return "InMemory";
    return std::is_same_v<T, SqliteKind> ? "Sqlite" : "SealedSqlite";
  }
};

template <typename Kind>
class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    ASSERT_FALSE(dir_.path().empty());
    journal_ = Kind::Make(dir_.path());
    ASSERT_NE(journal_, nullptr);
  }

  Journal& journal() { return *journal_; }

  TempDir dir_;
  Answers answers_;  // outlives the journal, which answers before it goes
  std::unique_ptr<Journal> journal_;
};

using JournalKinds =
    ::testing::Types<InMemoryKind, SqliteKind, SealedSqliteKind>;
TYPED_TEST_SUITE(JournalTest, JournalKinds, KindNames);

TYPED_TEST(JournalTest, LoadClassesReturnsClassesOldestFirst) {
  for (const char* id : {"c-b", "c-c", "c-a"}) {
    ASSERT_EQ(Create(this->journal(), id), absl::OkStatus());
  }
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_THAT(ClassIds(classes), ElementsAre("c-b", "c-c", "c-a"));
  EXPECT_THAT((*classes)[0].record, EqualsProto(Record("c-b")));
  EXPECT_FALSE((*classes)[0].health_purged);
}

TYPED_TEST(JournalTest, CreatingAClassTwiceIsAlreadyExistsAndKeepsTheFirst) {
  ASSERT_EQ(Create(this->journal(), "c"), absl::OkStatus());
  internal::ClassRecord other = Record("c");
  other.mutable_info()->set_title("another");
  Answer<absl::Status> again;
  this->journal().CreateClass(other, again.Callback());
  EXPECT_EQ(again.Get().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  ASSERT_EQ(classes->size(), 1u);
  EXPECT_THAT((*classes)[0].record, EqualsProto(Record("c")));
}

TYPED_TEST(JournalTest, AppendsKeepTheirOrderAndAnswerInTheOrderMade) {
  ASSERT_EQ(Create(this->journal(), "a"), absl::OkStatus());
  ASSERT_EQ(Create(this->journal(), "b"), absl::OkStatus());
  // Made without waiting, alternating between the classes.
  std::vector<std::string> made;
  for (int i = 0; i < 40; ++i) {
    const std::string class_id = i % 2 == 0 ? "a" : "b";
    made.push_back(absl::StrCat(class_id, i));
    this->journal().Append(class_id, Completion("ann", made.back(), i),
                           this->answers_.Add(made.back()));
  }
  ASSERT_TRUE(this->answers_.WaitFor(made.size()));
  EXPECT_EQ(this->answers_.labels(), made);
  for (const absl::Status& status : this->answers_.statuses()) {
    EXPECT_EQ(status, absl::OkStatus());
  }
  std::vector<int64_t> even, odd;
  for (int i = 0; i < 40; ++i) (i % 2 == 0 ? even : odd).push_back(i);
  EXPECT_EQ(Times(this->journal().LoadEntries("a")), even);
  EXPECT_EQ(Times(this->journal().LoadEntries("b")), odd);
}

TYPED_TEST(JournalTest, AppendToAClassNeverCreatedFailsOnlyItself) {
  ASSERT_EQ(Create(this->journal(), "a"), absl::OkStatus());
  this->journal().Append("a", Completion("ann", "r1", 1),
                         this->answers_.Add("1"));
  this->journal().Append("nope", Completion("ann", "r2", 2),
                         this->answers_.Add("2"));
  this->journal().Append("a", Completion("ann", "r3", 3),
                         this->answers_.Add("3"));
  ASSERT_TRUE(this->answers_.WaitFor(3));
  EXPECT_THAT(this->answers_.labels(), ElementsAre("1", "2", "3"));
  const std::vector<absl::Status> statuses = this->answers_.statuses();
  EXPECT_EQ(statuses[0], absl::OkStatus());
  EXPECT_EQ(statuses[1].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(statuses[2], absl::OkStatus());
  EXPECT_THAT(Times(this->journal().LoadEntries("a")), ElementsAre(1, 3));
  EXPECT_EQ(this->journal().LoadEntries("nope").status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST(JournalTest, EndClassStoresTheFinalInfoAndTheSummary) {
  ASSERT_EQ(Create(this->journal(), "c"), absl::OkStatus());
  EXPECT_EQ(Read(this->journal(), "c").status().code(),
            absl::StatusCode::kNotFound);
  const v1::ClassSummary summary = Summary("c", /*with_health=*/true);
  ASSERT_EQ(End(this->journal(), summary), absl::OkStatus());

  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  ASSERT_EQ(classes->size(), 1u);
  EXPECT_THAT((*classes)[0].record.info(), EqualsProto(summary.class_info()));
  // An ended class is listed, never replayed: its circuit is not loaded.
  EXPECT_FALSE((*classes)[0].record.has_circuit());
  EXPECT_EQ((*classes)[0].record.exercises_size(), 0);
  absl::StatusOr<v1::ClassSummary> stored = Read(this->journal(), "c");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, EqualsProto(summary));

  EXPECT_EQ(End(this->journal(), Summary("nope", true)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Read(this->journal(), "nope").status().code(),
            absl::StatusCode::kNotFound);
}

// ann and bob each report reps, an effort and a symptom; the class ends.
void RecordAClassWithHealthData(Journal& journal) {
  ASSERT_EQ(Create(journal, "c"), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Join("ann", 1)), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Join("bob", 2)), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Completion("ann", kRepsId, 3)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Effort("ann", kEffortId, 4)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Symptom("ann", "s1", kSymptomText, 5)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Effort("bob", "e2", 6)), absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Symptom("bob", "s2", "cramp", 7)),
            absl::OkStatus());
  ASSERT_EQ(AppendNow(journal, "c", Completion("bob", "r2", 8)),
            absl::OkStatus());
  ASSERT_EQ(End(journal, Summary("c", /*with_health=*/true)), absl::OkStatus());
}

TYPED_TEST(JournalTest, ErasingOneParticipantKeepsTheOthersAndTheReps) {
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(this->journal()));
  const v1::ClassSummary scrubbed = Summary("c", /*with_health=*/false);
  ASSERT_EQ(Erase(this->journal(), scrubbed, "ann"), absl::OkStatus());
  EXPECT_THAT(Times(this->journal().LoadEntries("c")),
              ElementsAre(1, 2, 3, 6, 7, 8));
  absl::StatusOr<v1::ClassSummary> stored = Read(this->journal(), "c");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, EqualsProto(scrubbed));
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_FALSE((*classes)[0].health_purged);
}

TYPED_TEST(JournalTest, ErasingEveryoneMarksTheClassPurged) {
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(this->journal()));
  ASSERT_EQ(Erase(this->journal(), Summary("c", false), ""), absl::OkStatus());
  EXPECT_THAT(Times(this->journal().LoadEntries("c")), ElementsAre(1, 2, 3, 8));
  absl::StatusOr<std::vector<StoredClass>> classes =
      this->journal().LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_TRUE((*classes)[0].health_purged);
}

TYPED_TEST(JournalTest, ErasingNeedsAClassThatEnded) {
  EXPECT_EQ(Erase(this->journal(), Summary("nope", false), "").code(),
            absl::StatusCode::kNotFound);
  ASSERT_EQ(Create(this->journal(), "c"), absl::OkStatus());
  ASSERT_EQ(AppendNow(this->journal(), "c", Effort("ann", "e", 1)),
            absl::OkStatus());
  EXPECT_EQ(Erase(this->journal(), Summary("c", false), "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Times(this->journal().LoadEntries("c")), ElementsAre(1));
}

// --- SQLite only
// ---------------------------------------------------------------

// The fault_before_commit seam: holds a commit until released, and fails
// the commits it is told to.
class CommitGate {
 public:
  absl::Status BeforeCommit() {
    absl::MutexLock lock(&mu_);
    if (hold_) {
      held_ = true;
      mu_.AwaitWithTimeout(absl::Condition(this, &CommitGate::Released),
                           kDeadline);
      held_ = false;
      return absl::OkStatus();
    }
    if (fail_ > 0) {
      --fail_;
      return absl::UnavailableError("injected I/O error");
    }
    return absl::OkStatus();
  }

  // The next commit waits in the seam until Release().
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  // Waits until a commit waits in the seam.
  bool AwaitHeld() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&held_), kDeadline);
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_ = false;
  }
  // The next `n` commits to reach the seam after the held one fail.
  void FailNext(int n) {
    absl::MutexLock lock(&mu_);
    fail_ = n;
  }

 private:
  bool Released() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hold_; }

  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int fail_ ABSL_GUARDED_BY(mu_) = 0;
};

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;

class SqliteJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    ASSERT_FALSE(dir_.path().empty());
  }

  std::string db_path() const { return dir_.path() + "/circuit.db"; }

  SqliteJournalOptions Options() {
    SqliteJournalOptions options;
    options.path = db_path();
    options.fault_before_commit = [this] { return gate_.BeforeCommit(); };
    return options;
  }

  std::unique_ptr<SqliteJournal> OpenJournal(
      std::optional<SqliteJournalOptions> options = std::nullopt) {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(options ? *options : Options());
    EXPECT_TRUE(journal.ok()) << journal.status();
    if (!journal.ok()) return nullptr;
    return *std::move(journal);
  }

  // A connection of the test's own to the database file.
  SqliteDb Connect() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    return SqliteDb(db);
  }

  // Appends completions numbered first..first+n-1 without waiting between
  // them, then waits for them all.
  void Fill(Journal& journal, const std::string& class_id, int first, int n) {
    Answers answers;
    for (int i = first; i < first + n; ++i) {
      journal.Append(class_id, Completion("ann", absl::StrCat("r", i), i),
                     answers.Add(""));
    }
    ASSERT_TRUE(answers.WaitFor(static_cast<size_t>(n)));
    for (const absl::Status& status : answers.statuses()) {
      ASSERT_EQ(status, absl::OkStatus());
    }
  }

  // Everything a write may have left bytes in: the file and its WAL.
  std::string FileAndWalBytes() {
    return ReadBytes(db_path()) + ReadBytes(db_path() + "-wal");
  }

  TempDir dir_;
  CommitGate gate_;
  Answers answers_;  // outlives the journals of the tests
};

bool Contains(const std::string& bytes, const std::string& marker) {
  return bytes.find(marker) != std::string::npos;
}

int Exec(const SqliteDb& db, const char* sql) {
  return sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
}

std::vector<int64_t> Range(int64_t first, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t i = first; i < end; ++i) out.push_back(i);
  return out;
}

TEST_F(SqliteJournalTest, AReopenedJournalHasEverythingAcknowledged) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_EQ(Create(*journal, "first"), absl::OkStatus());
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
    ASSERT_EQ(Erase(*journal, Summary("c", false), ""), absl::OkStatus());
    ASSERT_EQ(Create(*journal, "b-last"), absl::OkStatus());
    ASSERT_EQ(AppendNow(*journal, "b-last", Join("cy", 10)), absl::OkStatus());
  }
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  absl::StatusOr<std::vector<StoredClass>> classes = journal->LoadClasses();
  ASSERT_TRUE(classes.ok()) << classes.status();
  EXPECT_THAT(ClassIds(classes), ElementsAre("first", "c", "b-last"));
  EXPECT_THAT((*classes)[0].record, EqualsProto(Record("first")));
  EXPECT_FALSE((*classes)[0].health_purged);
  EXPECT_THAT((*classes)[1].record.info(),
              EqualsProto(Summary("c", false).class_info()));
  EXPECT_TRUE((*classes)[1].health_purged);
  EXPECT_FALSE((*classes)[2].health_purged);

  EXPECT_THAT(Times(journal->LoadEntries("first")), IsEmpty());
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 8));
  EXPECT_THAT(Times(journal->LoadEntries("b-last")), ElementsAre(10));
  absl::StatusOr<v1::ClassSummary> summary = Read(*journal, "c");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(*summary, EqualsProto(Summary("c", false)));
  EXPECT_EQ(Read(*journal, "first").status().code(),
            absl::StatusCode::kNotFound);

  // It carries on where it left off.
  EXPECT_EQ(Create(*journal, "first").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_EQ(AppendNow(*journal, "b-last", Join("dee", 11)), absl::OkStatus());
  ASSERT_EQ(Create(*journal, "a-new"), absl::OkStatus());
  EXPECT_THAT(Times(journal->LoadEntries("b-last")), ElementsAre(10, 11));
  EXPECT_THAT(ClassIds(journal->LoadClasses()),
              ElementsAre("first", "c", "b-last", "a-new"));
}

TEST_F(SqliteJournalTest, ConcurrentAppendsShareCommits) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
  const SqliteJournal::Stats before = journal->stats();

  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  constexpr int kTotal = kThreads * kEach;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        journal->Append("c",
                        Completion(absl::StrCat("p", t),
                                   absl::StrCat(t, "-", i), t * 10000 + i),
                        answers_.Add(""));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(answers_.WaitFor(kTotal));
  int failed = 0;
  for (const absl::Status& status : answers_.statuses()) {
    if (!status.ok()) ++failed;
  }
  EXPECT_EQ(failed, 0);

  const SqliteJournal::Stats after = journal->stats();
  const int64_t commits = after.commits - before.commits;
  std::cout << "[ stats    ] " << kTotal << " appends from " << kThreads
            << " threads: " << commits << " commits, largest batch "
            << after.largest_batch << "\n";
  RecordProperty("commits", static_cast<int>(commits));
  EXPECT_LT(commits, kTotal);
  EXPECT_EQ(after.entries - before.entries, kTotal);
  EXPECT_EQ(after.failed_commits, 0);

  // Every entry once, each thread's in the order it made them.
  absl::StatusOr<std::vector<internal::Entry>> entries =
      journal->LoadEntries("c");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), static_cast<size_t>(kTotal));
  std::vector<std::vector<int64_t>> by_thread(kThreads);
  for (const internal::Entry& entry : *entries) {
    const int64_t t = entry.at_unix_ms() / 10000;
    ASSERT_LT(t, kThreads);
    by_thread[static_cast<size_t>(t)].push_back(entry.at_unix_ms() % 10000);
  }
  for (const std::vector<int64_t>& made : by_thread) {
    EXPECT_EQ(made, Range(0, kEach));
  }
}

TEST_F(SqliteJournalTest, WritesMadeDuringACommitShareTheNextOne) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
  ASSERT_EQ(Create(*journal, "d"), absl::OkStatus());

  gate_.Hold();
  journal->Append("c", Completion("ann", "r0", 0), answers_.Add("0"));
  ASSERT_TRUE(gate_.AwaitHeld());
  const SqliteJournal::Stats before = journal->stats();
  std::vector<std::string> made = {"0"};
  for (int i = 1; i <= 100; ++i) {
    made.push_back(absl::StrCat(i));
    journal->Append(i % 2 == 1 ? "c" : "d",
                    Completion("ann", absl::StrCat("r", i), i),
                    answers_.Add(made.back()));
  }
  // Writes that fail on their own account fail alone.
  journal->Append("nope", Completion("ann", "x", 999), answers_.Add("nope"));
  journal->CreateClass(Record("c"), answers_.Add("again"));
  Answer<absl::StatusOr<v1::ClassSummary>> read;
  journal->ReadSummary("c", read.Callback());
  journal->Append("c", Completion("ann", "r101", 101), answers_.Add("101"));
  made.insert(made.end(), {"nope", "again", "101"});
  gate_.Release();

  ASSERT_TRUE(answers_.WaitFor(made.size()));
  EXPECT_EQ(answers_.labels(), made);
  const std::vector<absl::Status> statuses = answers_.statuses();
  for (size_t i = 0; i < statuses.size(); ++i) {
    const absl::StatusCode want =
        made[i] == "nope"    ? absl::StatusCode::kNotFound
        : made[i] == "again" ? absl::StatusCode::kAlreadyExists
                             : absl::StatusCode::kOk;
    EXPECT_EQ(statuses[i].code(), want) << made[i] << ": " << statuses[i];
  }
  EXPECT_EQ(read.Get().status().code(), absl::StatusCode::kNotFound);
  // The held commit, and one for everything made while it was held.
  const SqliteJournal::Stats after = journal->stats();
  EXPECT_EQ(after.commits - before.commits, 2);
  EXPECT_EQ(after.largest_batch, 104);

  std::vector<int64_t> odd = {0}, even;
  for (int i = 1; i <= 100; ++i) (i % 2 == 1 ? odd : even).push_back(i);
  odd.push_back(101);
  EXPECT_EQ(Times(journal->LoadEntries("c")), odd);
  EXPECT_EQ(Times(journal->LoadEntries("d")), even);
}

TEST_F(SqliteJournalTest, AFailedCommitFailsEveryWriteInItAndTheNextWorks) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
  ASSERT_EQ(Create(*journal, "e"), absl::OkStatus());

  gate_.Hold();
  journal->Append("c", Completion("ann", "r0", 0), answers_.Add("held"));
  ASSERT_TRUE(gate_.AwaitHeld());
  for (int i = 1; i <= 3; ++i) {
    journal->Append("c", Completion("ann", absl::StrCat("r", i), i),
                    answers_.Add(absl::StrCat(i)));
  }
  journal->CreateClass(Record("new"), answers_.Add("create"));
  journal->EndClass(Summary("e", true), answers_.Add("end"));
  Answer<absl::StatusOr<v1::ClassSummary>> read;
  journal->ReadSummary("e", read.Callback());
  journal->Append("c", Completion("ann", "r4", 4), answers_.Add("4"));
  gate_.FailNext(1);
  gate_.Release();

  ASSERT_TRUE(answers_.WaitFor(7));
  EXPECT_THAT(answers_.labels(),
              ElementsAre("held", "1", "2", "3", "create", "end", "4"));
  const std::vector<absl::Status> statuses = answers_.statuses();
  EXPECT_EQ(statuses[0], absl::OkStatus());
  for (size_t i = 1; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i].code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(statuses[i].message(),
                HasSubstr("the journal could not commit: injected I/O error"));
  }
  // The read in the failed batch saw what was committed, not the rolled
  // back end.
  EXPECT_EQ(read.Get().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(journal->stats().failed_commits, 1);
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(0));
  EXPECT_THAT(ClassIds(journal->LoadClasses()), ElementsAre("c", "e"));

  // The next batch is tried afresh.
  ASSERT_EQ(AppendNow(*journal, "c", Completion("ann", "r5", 5)),
            absl::OkStatus());
  ASSERT_EQ(Create(*journal, "new"), absl::OkStatus());
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(0, 5));
  EXPECT_THAT(ClassIds(journal->LoadClasses()), ElementsAre("c", "e", "new"));
}

TEST_F(SqliteJournalTest, ADatabaseLockedByAnotherProcessFailsUntilReleased) {
  SqliteJournalOptions options = Options();
  options.busy_timeout_ms = 50;
  std::unique_ptr<SqliteJournal> journal = OpenJournal(options);
  ASSERT_NE(journal, nullptr);
  ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());

  SqliteDb other = Connect();
  ASSERT_EQ(Exec(other, "BEGIN IMMEDIATE"), SQLITE_OK);
  const absl::Status locked =
      AppendNow(*journal, "c", Completion("ann", "r1", 1));
  EXPECT_EQ(locked.code(), absl::StatusCode::kUnavailable) << locked;
  EXPECT_THAT(locked.message(), HasSubstr("locked"));
  EXPECT_THAT(Times(journal->LoadEntries("c")), IsEmpty());

  ASSERT_EQ(Exec(other, "ROLLBACK"), SQLITE_OK);
  EXPECT_EQ(AppendNow(*journal, "c", Completion("ann", "r1", 1)),
            absl::OkStatus());
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1));
  EXPECT_EQ(journal->stats().failed_commits, 1);
}

TEST_F(SqliteJournalTest, AFullDiskFailsTheWriteAndLosesNothingCommitted) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
    ASSERT_NO_FATAL_FAILURE(Fill(*journal, "c", 1, 3));
  }
  // Far more than the file's free space.
  const internal::Entry big = Completion("ann", std::string(256 << 10, 'x'), 4);
  {
    SqliteJournalOptions options = Options();
    options.max_page_count = 1;  // no growth beyond the size at open
    std::unique_ptr<SqliteJournal> journal = OpenJournal(options);
    ASSERT_NE(journal, nullptr);
    const absl::Status full = AppendNow(*journal, "c", big);
    EXPECT_EQ(full.code(), absl::StatusCode::kUnavailable) << full;
    EXPECT_THAT(full.message(), HasSubstr("full"));
    EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3));
  }
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3));
  EXPECT_EQ(AppendNow(*journal, "c", big), absl::OkStatus());
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 4));
}

TEST_F(SqliteJournalTest, AStoredRecordThatDoesNotParseIsDataLoss) {
  for (const bool ended : {false, true}) {
    SCOPED_TRACE(ended ? "ended" : "open");
    {
      std::unique_ptr<SqliteJournal> journal = OpenJournal();
      ASSERT_NE(journal, nullptr);
      const std::string id = ended ? "ended" : "open";
      ASSERT_EQ(Create(*journal, id), absl::OkStatus());
      if (ended) {
        ASSERT_EQ(End(*journal, Summary(id, false)), absl::OkStatus());
      }
    }
    {
      SqliteDb db = Connect();
      // Field 1 (info) says 100 bytes follow; 2 do.
      ASSERT_EQ(Exec(db, "UPDATE classes SET record = x'0a64ffff'"), SQLITE_OK);
    }
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    absl::StatusOr<std::vector<StoredClass>> classes = journal->LoadClasses();
    EXPECT_EQ(classes.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(classes.status().message(), HasSubstr("does not parse"));
    journal.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((db_path() + suffix).c_str());
    }
  }
}

TEST_F(SqliteJournalTest, AFileOfRandomBytesIsRefusedAndLeftAsItIs) {
  std::mt19937 random(7731);
  std::string bytes(16 << 10, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  WriteBytes(db_path(), bytes);

  absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
      SqliteJournal::Open(Options());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(journal.status().message(), HasSubstr(db_path()));
  EXPECT_THAT(journal.status().message(), HasSubstr("file is not a database"));
  EXPECT_EQ(ReadBytes(db_path()), bytes);
}

TEST_F(SqliteJournalTest, AGarbledDatabaseIsRefusedAndLeftAsItIs) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
    ASSERT_NO_FATAL_FAILURE(Fill(*journal, "c", 0, 300));
  }
  std::string bytes = ReadBytes(db_path());
  ASSERT_GT(bytes.size(), 4u * 4096);
  bytes.replace(4096, 8, 8, '\xff');  // the b-tree header of page 2
  WriteBytes(db_path(), bytes);

  absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
      SqliteJournal::Open(Options());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss)
      << journal.status();
  EXPECT_THAT(journal.status().message(), HasSubstr(db_path()));
  EXPECT_EQ(ReadBytes(db_path()), bytes);
}

TEST_F(SqliteJournalTest, ATruncatedDatabaseIsRefusedAndLeftAsItIs) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
    ASSERT_NO_FATAL_FAILURE(Fill(*journal, "c", 0, 300));
  }
  std::string bytes = ReadBytes(db_path());
  ASSERT_GT(bytes.size(), 4u * 4096);
  bytes.resize(bytes.size() / 2);
  WriteBytes(db_path(), bytes);

  absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
      SqliteJournal::Open(Options());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss)
      << journal.status();
  EXPECT_THAT(journal.status().message(), HasSubstr(db_path()));
  EXPECT_EQ(ReadBytes(db_path()), bytes);
}

TEST_F(SqliteJournalTest, ANewerSchemaVersionIsRefusedAndNotWritten) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
  }
  {
    SqliteDb db = Connect();
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db.get(), "PRAGMA user_version", -1, &stmt, nullptr),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), SqliteJournal::kSchemaVersion);
    sqlite3_finalize(stmt);
    ASSERT_EQ(Exec(db, absl::StrCat("PRAGMA user_version = ",
                                    SqliteJournal::kSchemaVersion + 1)
                           .c_str()),
              SQLITE_OK);
  }
  const std::string bytes = ReadBytes(db_path());

  absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
      SqliteJournal::Open(Options());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(journal.status().message(), HasSubstr(db_path()));
  EXPECT_THAT(journal.status().message(),
              HasSubstr(absl::StrCat("schema version ",
                                     SqliteJournal::kSchemaVersion + 1)));
  EXPECT_THAT(journal.status().message(),
              HasSubstr(absl::StrCat("this circuitd's (",
                                     SqliteJournal::kSchemaVersion, ")")));
  EXPECT_EQ(ReadBytes(db_path()), bytes);
}

TEST_F(SqliteJournalTest, AnSqliteFileThatIsNotAJournalIsRefused) {
  {
    SqliteDb db = Connect();
    ASSERT_EQ(Exec(db, "CREATE TABLE notes (text TEXT)"), SQLITE_OK);
  }
  const std::string bytes = ReadBytes(db_path());
  absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
      SqliteJournal::Open(Options());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(journal.status().message(), HasSubstr("not a Circuit journal"));
  EXPECT_EQ(ReadBytes(db_path()), bytes);
}

TEST_F(SqliteJournalTest, ASecondOpenerOfTheSameFileIsRefused) {
  std::unique_ptr<SqliteJournal> first = OpenJournal();
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(Create(*first, "c"), absl::OkStatus());

  absl::StatusOr<std::unique_ptr<SqliteJournal>> second =
      SqliteJournal::Open(Options());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("another circuitd is using ", db_path(),
                                     " (pid ", getpid(), ")")));
  EXPECT_EQ(AppendNow(*first, "c", Join("ann", 1)), absl::OkStatus());

  first.reset();
  std::unique_ptr<SqliteJournal> third = OpenJournal();
  ASSERT_NE(third, nullptr);
  EXPECT_THAT(Times(third->LoadEntries("c")), ElementsAre(1));
}

TEST_F(SqliteJournalTest, ErasedHealthDataLeavesNoBytesInTheFileOrTheWal) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  // The search can find them: they are there before the erase.
  const std::string before = FileAndWalBytes();
  ASSERT_TRUE(Contains(before, kSymptomText));
  ASSERT_TRUE(Contains(before, kEffortId));

  ASSERT_EQ(Erase(*journal, Summary("c", false), "ann"), absl::OkStatus());
  const std::string after = FileAndWalBytes();
  EXPECT_FALSE(Contains(after, kSymptomText));
  EXPECT_FALSE(Contains(after, kEffortId));
  // Reps stay, and so does what bob reported.
  EXPECT_TRUE(Contains(after, kRepsId));
  EXPECT_TRUE(Contains(after, "cramp"));
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 6, 7, 8));
}

TEST_F(SqliteJournalTest, AnEraseWhileAnotherProcessReadsFailsUntilRetried) {
  SqliteJournalOptions options = Options();
  options.busy_timeout_ms = 50;
  std::unique_ptr<SqliteJournal> journal = OpenJournal(options);
  ASSERT_NE(journal, nullptr);
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));

  // A reader's snapshot keeps the WAL from being emptied.
  SqliteDb reader = Connect();
  ASSERT_EQ(Exec(reader, "BEGIN"), SQLITE_OK);
  ASSERT_EQ(Exec(reader, "SELECT count(*) FROM entries"), SQLITE_OK);
  const absl::Status erased = Erase(*journal, Summary("c", false), "ann");
  EXPECT_EQ(erased.code(), absl::StatusCode::kUnavailable) << erased;
  EXPECT_THAT(erased.message(), HasSubstr("may remain on disk"));
  // The rows are gone all the same.
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 6, 7, 8));

  ASSERT_EQ(Exec(reader, "COMMIT"), SQLITE_OK);
  EXPECT_EQ(Erase(*journal, Summary("c", false), "ann"), absl::OkStatus());
  const std::string after = FileAndWalBytes();
  EXPECT_FALSE(Contains(after, kSymptomText));
  EXPECT_FALSE(Contains(after, kEffortId));
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 6, 7, 8));
}

TEST_F(SqliteJournalTest, CloseAnswersEverythingQueuedFirst) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
  for (int i = 0; i < 200; ++i) {
    journal->Append("c", Completion("ann", absl::StrCat("r", i), i),
                    answers_.Add(""));
  }
  journal->Close();
  // No waiting: Close() returned after the last answer.
  EXPECT_EQ(answers_.size(), 200u);
  for (const absl::Status& status : answers_.statuses()) {
    EXPECT_EQ(status, absl::OkStatus());
  }
  Answer<absl::Status> late;
  journal->Append("c", Completion("ann", "late", 200), late.Callback());
  ASSERT_TRUE(late.Ready());
  EXPECT_EQ(late.Get().code(), absl::StatusCode::kUnavailable);
  journal.reset();

  journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(Times(journal->LoadEntries("c")), Range(0, 200));
}

// Classes run in waves of four. When a wave ends, each participant's health
// data in it is erased in turn while the next wave appends, so the pages that
// hold health data split, merge and rebalance between the erases and cells of
// all sizes move between pages. secure_delete alone leaves stale copies of
// moved cells in the unused middle of pages: with SQLite 3.40 each of these
// seeds leaves some.
TEST_F(SqliteJournalTest, ErasedHealthDataLeavesNoCopiesInRebalancedPages) {
  constexpr int kWaves = 3;
  constexpr int kPerWave = 4;
  constexpr int kParticipants = 9;
  constexpr int kAppendsPerWave = 300;
  const std::string kMarker = "health-marker-";
  for (const uint32_t seed : {3u, 21u, 26u}) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    SqliteJournalOptions options = Options();
    options.path = absl::StrCat(dir_.path(), "/seed-", seed, ".db");
    std::unique_ptr<SqliteJournal> journal = OpenJournal(options);
    ASSERT_NE(journal, nullptr);
    std::mt19937 random(seed);
    auto class_id = [](int wave, int k) {
      return absl::StrCat("c", wave * kPerWave + k);
    };
    auto erase_wave = [&](int wave) {
      for (int p = 0; p < kParticipants; ++p) {
        for (int k = 0; k < kPerWave; ++k) {
          const std::string participant =
              absl::StrCat("p", (p * kPerWave + k) % kParticipants);
          ASSERT_EQ(
              Erase(*journal, Summary(class_id(wave, k), false), participant),
              absl::OkStatus());
        }
      }
    };
    for (int wave = 0; wave < kWaves; ++wave) {
      for (int k = 0; k < kPerWave; ++k) {
        ASSERT_EQ(Create(*journal, class_id(wave, k)), absl::OkStatus());
      }
      Answers answers;
      for (int i = 0; i < kAppendsPerWave; ++i) {
        const std::string id =
            class_id(wave, static_cast<int>(random() % kPerWave));
        const std::string pid = absl::StrCat("p", random() % kParticipants);
        const uint32_t kind = random() % 4;
        const std::string pad(random() % 120, 'q');
        const std::string marker = absl::StrCat(kMarker, id, "-", pid, pad);
        journal->Append(
            id,
            kind == 0   ? Symptom(pid, absl::StrCat("s", i), marker, i)
            : kind == 1 ? Effort(pid, marker, i)
                        : Completion(pid, absl::StrCat("reps", i, pad), i),
            answers.Add(""));
      }
      ASSERT_TRUE(answers.WaitFor(kAppendsPerWave));
      for (int k = 0; k < kPerWave; ++k) {
        v1::ClassSummary summary = Summary(class_id(wave, k), true);
        summary.mutable_participants(0)->mutable_symptoms(0)->set_other_text(
            absl::StrCat(kMarker, std::string(random() % 300, 'w')));
        ASSERT_EQ(End(*journal, summary), absl::OkStatus());
      }
      if (wave > 0) {
        ASSERT_NO_FATAL_FAILURE(erase_wave(wave - 1));
      }
    }
    auto bytes = [&] {
      return ReadBytes(options.path) + ReadBytes(options.path + "-wal");
    };
    ASSERT_TRUE(Contains(bytes(), kMarker));  // the last wave's, still there
    ASSERT_NO_FATAL_FAILURE(erase_wave(kWaves - 1));

    const std::string after = bytes();
    EXPECT_FALSE(Contains(after, kMarker));
    EXPECT_TRUE(Contains(after, "reps"));
  }
}

// --- Health data sealed at rest ---------------------------------------------

class SealedJournalTest : public SqliteJournalTest {
 protected:
  SqliteJournalOptions Sealed(std::vector<uint32_t> key_ids) {
    SqliteJournalOptions options = Options();
    options.keys = TestKeys(std::move(key_ids));
    return options;
  }

  // RecordAClassWithHealthData's entries and summary, as stored, read back
  // through a journal with `key_ids`.
  void ExpectEverythingReadsBack(std::vector<uint32_t> key_ids) {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed(key_ids));
    ASSERT_NE(journal, nullptr);
    absl::StatusOr<std::vector<internal::Entry>> entries =
        journal->LoadEntries("c");
    ASSERT_TRUE(entries.ok()) << entries.status();
    ASSERT_EQ(entries->size(), 8u);
    EXPECT_THAT((*entries)[4],
                EqualsProto(Symptom("ann", "s1", kSymptomText, 5)));
    EXPECT_THAT((*entries)[3], EqualsProto(Effort("ann", kEffortId, 4)));
    EXPECT_THAT((*entries)[0], EqualsProto(Join("ann", 1)));
    absl::StatusOr<v1::ClassSummary> summary = Read(*journal, "c");
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_THAT(*summary, EqualsProto(Summary("c", /*with_health=*/true)));
    EXPECT_EQ(journal->unreadable_records(), 0);
  }

  // The raw bodies of the entries, by row id.
  std::vector<std::pair<int64_t, std::string>> Bodies() {
    SqliteDb db = Connect();
    std::vector<std::pair<int64_t, std::string>> bodies;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(
        sqlite3_prepare_v2(db.get(), "SELECT id, body FROM entries ORDER BY id",
                           -1, &stmt, nullptr),
        SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      bodies.emplace_back(
          sqlite3_column_int64(stmt, 0),
          std::string(static_cast<const char*>(sqlite3_column_blob(stmt, 1)),
                      static_cast<size_t>(sqlite3_column_bytes(stmt, 1))));
    }
    sqlite3_finalize(stmt);
    return bodies;
  }

  void SetBody(int64_t id, const std::string& body) {
    SqliteDb db = Connect();
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db.get(),
                                 "UPDATE entries SET body = ?2 WHERE id = ?1",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_blob(stmt, 2, body.data(), static_cast<int>(body.size()),
                      SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
  }
};

TEST_F(SealedJournalTest, HealthDataIsNotInTheFileOrTheWalButRepsAre) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
  ASSERT_NE(journal, nullptr);
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  const std::string bytes = FileAndWalBytes();
  EXPECT_FALSE(Contains(bytes, kSymptomText));
  EXPECT_FALSE(Contains(bytes, kEffortId));
  EXPECT_FALSE(Contains(bytes, "cramp"));
  EXPECT_FALSE(Contains(
      bytes, Effort("ann", kEffortId, 4).report().SerializeAsString()));
  // What is not health data stays readable as it was.
  EXPECT_TRUE(Contains(bytes, kRepsId));
  journal.reset();
  ASSERT_NO_FATAL_FAILURE(ExpectEverythingReadsBack({1}));
}

TEST_F(SealedJournalTest, OnlyHealthRecordsAndJoinsAreSealed) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  std::vector<bool> sealed;
  for (const auto& [id, body] : Bodies()) {
    sealed.push_back(KeyRing::IsSealed(body));
  }
  // join, join, reps, effort, symptom, effort, symptom, reps
  EXPECT_THAT(sealed,
              ElementsAre(true, true, false, true, true, true, true, false));
}

TEST_F(SealedJournalTest, AMissingKeyIsReportedAndTheRestStillLoads) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({2}));
  ASSERT_NE(journal, nullptr);
  // The reps, which are not sealed, still replay.
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(3, 8));
  EXPECT_EQ(journal->unreadable_records(), 6);
  absl::StatusOr<v1::ClassSummary> summary = Read(*journal, "c");
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(summary.status().message(), HasSubstr("data key 1"));
  EXPECT_THAT(summary.status().message(), HasSubstr("class c"));
}

TEST_F(SealedJournalTest, AChangedByteLeavesOnlyThatRecordOut) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  const auto bodies = Bodies();
  ASSERT_EQ(bodies.size(), 8u);
  std::string symptom = bodies[4].second;
  symptom[symptom.size() / 2] ^= 0x01;
  ASSERT_NO_FATAL_FAILURE(SetBody(bodies[4].first, symptom));
  std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
  ASSERT_NE(journal, nullptr);
  EXPECT_THAT(Times(journal->LoadEntries("c")),
              ElementsAre(1, 2, 3, 4, 6, 7, 8));
  EXPECT_EQ(journal->unreadable_records(), 1);
}

TEST_F(SealedJournalTest, SwappedRecordsDoNotOpen) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  const auto bodies = Bodies();
  ASSERT_EQ(bodies.size(), 8u);
  // ann's symptom and bob's: each authentic, but in the other's row.
  ASSERT_NO_FATAL_FAILURE(SetBody(bodies[4].first, bodies[6].second));
  ASSERT_NO_FATAL_FAILURE(SetBody(bodies[6].first, bodies[4].second));
  std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
  ASSERT_NE(journal, nullptr);
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 4, 6, 8));
  EXPECT_EQ(journal->unreadable_records(), 2);
}

TEST_F(SealedJournalTest, ResealMovesEveryRecordToTheNewKey) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1, 2}));
    ASSERT_NE(journal, nullptr);
    absl::StatusOr<SqliteJournal::ResealCounts> counts = journal->Reseal();
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->resealed, 7);  // six entries and the summary
    EXPECT_EQ(counts->sealed, 0);
    EXPECT_EQ(counts->unreadable, 0);
    // Nothing is left to move the second time.
    counts = journal->Reseal();
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->resealed, 0);
  }
  for (const auto& [id, body] : Bodies()) {
    if (!KeyRing::IsSealed(body)) continue;
    EXPECT_EQ(KeyRing::KeyIdOf(body).value_or(0), 2u) << "entry " << id;
  }
  // Key 1 may go now.
  ASSERT_NO_FATAL_FAILURE(ExpectEverythingReadsBack({2}));
}

TEST_F(SealedJournalTest, ResealLeavesRecordsItCannotOpenAndSaysSo) {
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  const auto before = Bodies();
  std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({3}));
  ASSERT_NE(journal, nullptr);
  absl::StatusOr<SqliteJournal::ResealCounts> counts = journal->Reseal();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->unreadable, 7);
  EXPECT_EQ(counts->resealed, 0);
  journal.reset();
  EXPECT_EQ(Bodies(), before);
}

TEST_F(SealedJournalTest, ResealNeedsKeys) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->Reseal().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SealedJournalTest, AFileFromBeforeSealingIsSealedWhenOpened) {
  {
    // Written plain, then marked as a version 1 file.
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  }
  {
    SqliteDb db = Connect();
    ASSERT_EQ(Exec(db, "PRAGMA user_version = 1"), SQLITE_OK);
  }
  ASSERT_TRUE(Contains(FileAndWalBytes(), kSymptomText));
  {
    std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
    ASSERT_NE(journal, nullptr);
    const std::string bytes = FileAndWalBytes();
    EXPECT_FALSE(Contains(bytes, kSymptomText));
    EXPECT_FALSE(Contains(bytes, kEffortId));
    EXPECT_TRUE(Contains(bytes, kRepsId));
  }
  ASSERT_NO_FATAL_FAILURE(ExpectEverythingReadsBack({1}));
}

TEST_F(SealedJournalTest, ErasedSealedHealthDataIsGone) {
  std::unique_ptr<SqliteJournal> journal = OpenJournal(Sealed({1}));
  ASSERT_NE(journal, nullptr);
  ASSERT_NO_FATAL_FAILURE(RecordAClassWithHealthData(*journal));
  const v1::ClassSummary scrubbed = Summary("c", /*with_health=*/false);
  ASSERT_EQ(Erase(*journal, scrubbed, ""), absl::OkStatus());
  EXPECT_THAT(Times(journal->LoadEntries("c")), ElementsAre(1, 2, 3, 8));
  absl::StatusOr<v1::ClassSummary> stored = Read(*journal, "c");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, EqualsProto(scrubbed));
}

}  // namespace
}  // namespace circuit
