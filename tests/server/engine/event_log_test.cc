#include "server/engine/event_log.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace circuit::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

v1::ClassEvent CueEvent(const std::string& text) {
  v1::ClassEvent event;
  event.mutable_cue()->set_text(text);
  return event;
}

std::vector<int64_t> Seqs(const std::vector<const Event*>& events) {
  std::vector<int64_t> out;
  for (const Event* e : events) out.push_back(e->event.seq());
  return out;
}

TEST(EventLogTest, NumbersStampsAndDrainsEachEventOnce) {
  EventLog log(10);
  EXPECT_EQ(log.last_seq(), 0);
  EXPECT_EQ(log.Append(CueEvent("a"), Audience::kPublic, "", 5), 1);
  EXPECT_EQ(
      log.Append(CueEvent("b"), Audience::kInstructorAndParticipant, "p1", 7),
      2);
  std::vector<Event> drained = log.Drain();
  ASSERT_THAT(drained, SizeIs(2));
  EXPECT_EQ(drained[1].event.seq(), 2);
  EXPECT_EQ(drained[1].event.at_unix_ms(), 7);
  EXPECT_EQ(drained[1].participant_id, "p1");
  EXPECT_THAT(log.Drain(), IsEmpty());
  EXPECT_THAT(log.retained(), SizeIs(2));
}

TEST(EventLogTest, AfterGivesRetainedEventsOrNulloptWhenSomeWereForgotten) {
  EventLog log(3);
  for (int i = 0; i < 5; ++i)
    log.Append(CueEvent("x"), Audience::kPublic, "", i);
  EXPECT_FALSE(log.After(0).has_value());
  EXPECT_FALSE(log.After(1).has_value());
  EXPECT_THAT(Seqs(*log.After(2)), ElementsAre(3, 4, 5));
  EXPECT_THAT(Seqs(*log.After(4)), ElementsAre(5));
  EXPECT_THAT(*log.After(5), IsEmpty());
  EXPECT_THAT(*log.After(99), IsEmpty());
  // A cursor reads it a slice at a time.
  EXPECT_THAT(Seqs(*log.After(2, 2)), ElementsAre(3, 4));
  EXPECT_THAT(Seqs(*log.After(4, 2)), ElementsAre(5));
  EXPECT_FALSE(log.After(1, 2).has_value());
}

TEST(EventLogTest, RemovedEventsAreSkippedNotMissed) {
  EventLog log(10);
  for (int i = 0; i < 5; ++i) {
    log.Append(CueEvent(i % 2 == 0 ? "keep" : "drop"), Audience::kPublic, "",
               i);
  }
  log.RemoveIf([](const Event& e) { return e.event.cue().text() == "drop"; });
  EXPECT_THAT(Seqs(*log.After(0)), ElementsAre(1, 3, 5));
  EXPECT_THAT(Seqs(*log.After(-3)), ElementsAre(1, 3, 5));
  EXPECT_THAT(Seqs(*log.After(2)), ElementsAre(3, 5));
  EXPECT_THAT(Seqs(*log.After(3)), ElementsAre(5));
  std::vector<Event> pending = log.Drain();
  ASSERT_THAT(pending, SizeIs(3));
  EXPECT_EQ(pending[1].event.seq(), 3);
  // Seqs go on from the highest ever given.
  EXPECT_EQ(log.Append(CueEvent("z"), Audience::kPublic, "", 9), 6);
}

}  // namespace
}  // namespace circuit::engine
