#ifndef CIRCUIT_TESTS_SERVER_JOURNAL_JOURNAL_TEST_SUPPORT_H_
#define CIRCUIT_TESTS_SERVER_JOURNAL_JOURNAL_TEST_SUPPORT_H_

// What the journal's tests share: a temporary directory, waiting for
// answers, the inputs they record, blocking forms of the writes, test keys,
// and the fixture of the SQLite journal's own tests.

#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/common/data_cipher.h"
#include "server/common/log.h"
#include "server/journal/journal.h"
#include "server/journal/sqlite_journal.h"

namespace circuit::journal_testing {

// Long enough never to be reached by a passing test.
inline constexpr absl::Duration kDeadline = absl::Seconds(60);

// Distinctive health data, to look for in the raw bytes of the files.
inline constexpr char kSymptomText[] = "zebra-ankle-pain-7731";
inline constexpr char kEffortId[] = "effort-marker-5519";
inline constexpr char kRepsId[] = "reps-marker-2468";

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
std::string ReadBytes(const std::string& path);

void WriteBytes(const std::string& path, const std::string& bytes);

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

internal::ClassRecord Record(const std::string& class_id);
internal::Entry Join(const std::string& participant_id, int64_t at);
internal::Entry Completion(const std::string& participant_id,
                           const std::string& report_id, int64_t at);
internal::Entry Effort(const std::string& participant_id,
                       const std::string& report_id, int64_t at);
internal::Entry Symptom(const std::string& participant_id,
                        const std::string& report_id, const std::string& text,
                        int64_t at);
// The summary of an ended class; with the health data of "ann" or without.
v1::ClassSummary Summary(const std::string& class_id, bool with_health);

// Fixed test keys: never used outside tests.
std::shared_ptr<const KeyRing> TestKeys(std::vector<uint32_t> ids);

// --- Blocking helpers --------------------------------------------------------

absl::Status Create(Journal& journal, const std::string& class_id);
absl::Status AppendNow(Journal& journal, const std::string& class_id,
                       internal::Entry entry);
absl::Status End(Journal& journal, const v1::ClassSummary& summary);
absl::Status Erase(Journal& journal, const v1::ClassSummary& scrubbed,
                   const std::string& participant_id);
absl::StatusOr<v1::ClassSummary> Read(Journal& journal,
                                      const std::string& class_id);

// The at_unix_ms of each entry: the tests number their entries with it.
std::vector<int64_t> Times(
    const absl::StatusOr<std::vector<internal::Entry>>& entries);
std::vector<std::string> ClassIds(
    const absl::StatusOr<std::vector<StoredClass>>& classes);

// ann and bob each report reps, an effort and a symptom; the class ends.
void RecordAClassWithHealthData(Journal& journal);

// --- The SQLite journal ------------------------------------------------------

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

  // Records a class of 300 entries and closes the journal: a file of
  // several pages.
  void RecordSeveralPages() {
    std::unique_ptr<SqliteJournal> journal = OpenJournal();
    ASSERT_NE(journal, nullptr);
    ASSERT_EQ(Create(*journal, "c"), absl::OkStatus());
    ASSERT_NO_FATAL_FAILURE(Fill(*journal, "c", 0, 300));
  }

  // Open refuses the file, now `bytes`, as DATA_LOSS naming it, and leaves
  // it as it is.
  void ExpectRefusedAsDataLoss(const std::string& bytes) {
    absl::StatusOr<std::unique_ptr<SqliteJournal>> journal =
        SqliteJournal::Open(Options());
    EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss)
        << journal.status();
    EXPECT_THAT(journal.status().message(), ::testing::HasSubstr(db_path()));
    EXPECT_EQ(ReadBytes(db_path()), bytes);
  }

  // Everything a write may have left bytes in: the file and its WAL.
  std::string FileAndWalBytes() {
    return ReadBytes(db_path()) + ReadBytes(db_path() + "-wal");
  }

  TempDir dir_;
  CommitGate gate_;
  Answers answers_;  // outlives the journals of the tests
};

bool Contains(const std::string& bytes, const std::string& marker);
int Exec(const SqliteDb& db, const char* sql);
std::vector<int64_t> Range(int64_t first, int64_t end);

}  // namespace circuit::journal_testing

#endif  // CIRCUIT_TESTS_SERVER_JOURNAL_JOURNAL_TEST_SUPPORT_H_
