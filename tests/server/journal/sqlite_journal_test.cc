// The SQLite journal's own behaviour: group commit, its failures, the
// file's lock and schema checks, and scrubbing erased bytes.

#include "server/journal/sqlite_journal.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/journal/journal_test_support.h"

namespace circuit::journal_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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
  ASSERT_NO_FATAL_FAILURE(RecordSeveralPages());
  std::string bytes = ReadBytes(db_path());
  ASSERT_GT(bytes.size(), 4u * 4096);
  bytes.replace(4096, 8, 8, '\xff');  // the b-tree header of page 2
  WriteBytes(db_path(), bytes);
  ExpectRefusedAsDataLoss(bytes);
}

TEST_F(SqliteJournalTest, ATruncatedDatabaseIsRefusedAndLeftAsItIs) {
  ASSERT_NO_FATAL_FAILURE(RecordSeveralPages());
  std::string bytes = ReadBytes(db_path());
  ASSERT_GT(bytes.size(), 4u * 4096);
  bytes.resize(bytes.size() / 2);
  WriteBytes(db_path(), bytes);
  ExpectRefusedAsDataLoss(bytes);
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

}  // namespace
}  // namespace circuit::journal_testing
