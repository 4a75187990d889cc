// Health data sealed at rest by the SQLite journal: what is sealed, what
// a missing key or a changed byte costs, resealing, and old files.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/journal/sqlite_journal.h"
#include "tests/server/journal/journal_test_support.h"

namespace circuit::journal_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
}  // namespace circuit::journal_testing
