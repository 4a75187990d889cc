#include "server/cluster/fence.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::cluster {
namespace {

using Read = FenceReader::Read;
using ::testing::ElementsAre;

internal::LogRecord Created() {
  internal::LogRecord record;
  record.mutable_created()->mutable_info()->set_class_id("c-1");
  return record;
}

internal::LogRecord Takeover(int64_t term) {
  internal::LogRecord record;
  record.set_term(term);
  record.mutable_takeover();
  return record;
}

internal::LogRecord Entry(int64_t term, int64_t n) {
  internal::LogRecord record;
  record.set_term(term);
  record.set_n(n);
  record.set_entry("e");
  return record;
}

// "term.n" of each entry taken.
std::vector<std::string> Names(const std::vector<internal::LogRecord>& taken) {
  std::vector<std::string> names;
  for (const auto& r : taken) {
    names.push_back(std::to_string(r.term()) + "." + std::to_string(r.n()));
  }
  return names;
}

TEST(FenceReaderTest, TakesATermsEntriesInTheOrderOfTheirN) {
  FenceReader reader;
  std::vector<internal::LogRecord> taken;
  EXPECT_EQ(reader.Next(Created(), &taken), Read::kCreated);
  EXPECT_EQ(reader.Next(Takeover(5), &taken), Read::kTakeover);
  EXPECT_EQ(reader.Next(Entry(5, 1), &taken), Read::kTaken);
  // 3 landed before 2 (a retried publish): it waits for 2.
  EXPECT_EQ(reader.Next(Entry(5, 3), &taken), Read::kWaiting);
  EXPECT_EQ(reader.Next(Entry(5, 2), &taken), Read::kTaken);
  // A retry that landed twice counts once.
  EXPECT_EQ(reader.Next(Entry(5, 2), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Entry(5, 3), &taken), Read::kIgnored);
  EXPECT_THAT(Names(taken), ElementsAre("5.1", "5.2", "5.3"));
  EXPECT_EQ(reader.term(), 5);
  EXPECT_EQ(reader.last_n(), 3);
}

TEST(FenceReaderTest, ANewerTakeoverFencesTheOlderTermFromWhereItLands) {
  FenceReader reader;
  std::vector<internal::LogRecord> taken;
  reader.Next(Created(), &taken);
  reader.Next(Takeover(5), &taken);
  reader.Next(Entry(5, 1), &taken);
  EXPECT_EQ(reader.Next(Entry(5, 3), &taken), Read::kWaiting);
  EXPECT_EQ(reader.Next(Takeover(9), &taken), Read::kTakeover);
  // The old owner goes on appending, concurrently with the new one: none of
  // it counts, not even the entry that was waiting for its 2.
  EXPECT_EQ(reader.Next(Entry(5, 2), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Entry(9, 1), &taken), Read::kTaken);
  EXPECT_EQ(reader.Next(Entry(5, 4), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Entry(9, 2), &taken), Read::kTaken);
  EXPECT_THAT(Names(taken), ElementsAre("5.1", "9.1", "9.2"));
}

TEST(FenceReaderTest, AStaleClaimantsTakeoverAndEntriesAreIgnored) {
  FenceReader reader;
  std::vector<internal::LogRecord> taken;
  reader.Next(Created(), &taken);
  reader.Next(Takeover(9), &taken);
  // Term 7's claimant lost the race to 9 but its takeover landed after.
  EXPECT_EQ(reader.Next(Takeover(7), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Entry(7, 1), &taken), Read::kIgnored);
  // A takeover of the current term again (a retried publish) changes
  // nothing either.
  reader.Next(Entry(9, 1), &taken);
  EXPECT_EQ(reader.Next(Takeover(9), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Entry(9, 2), &taken), Read::kTaken);
  EXPECT_THAT(Names(taken), ElementsAre("9.1", "9.2"));
  EXPECT_EQ(reader.term(), 9);
}

TEST(FenceReaderTest, NothingCountsBeforeATakeoverAndTheClassIsCreatedOnce) {
  FenceReader reader;
  std::vector<internal::LogRecord> taken;
  EXPECT_EQ(reader.Next(Entry(0, 1), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Created(), &taken), Read::kCreated);
  EXPECT_EQ(reader.Next(Created(), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(Entry(3, 1), &taken), Read::kIgnored);
  EXPECT_EQ(reader.Next(internal::LogRecord(), &taken), Read::kIgnored);
  EXPECT_TRUE(taken.empty());
  EXPECT_TRUE(reader.created());
}

}  // namespace
}  // namespace circuit::cluster
