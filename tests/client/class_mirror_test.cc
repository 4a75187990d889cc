#include "client/lib/class_mirror.h"

#include "gtest/gtest.h"

namespace circuit::client {
namespace {

v1::InstructorSnapshot Snapshot() {
  v1::InstructorSnapshot s;
  s.set_seq(10);
  s.mutable_state()->set_phase(v1::CLASS_PHASE_RUNNING);
  v1::Interval* current = s.mutable_state()->mutable_current();
  current->set_index(0);
  current->set_kind(v1::INTERVAL_KIND_WORK);
  current->set_block_index(0);
  current->set_set(1);
  current->set_side(v1::SIDE_LEFT);
  s.mutable_state()->mutable_timer()->set_running(true);
  s.mutable_state()->mutable_timer()->set_deadline_unix_ms(50'000);
  v1::Block* block = s.mutable_circuit()->add_blocks();
  block->mutable_reps()->set_min_reps(8);
  block->mutable_reps()->set_max_reps(10);
  v1::RosterEntry* ana = s.add_roster();
  ana->set_participant_id("p-1");
  ana->set_connection(v1::CONNECTION_STATE_CONNECTED);
  return s;
}

v1::ClassEvent Completion(int64_t seq, int reps) {
  v1::ClassEvent e;
  e.set_seq(seq);
  v1::ReportRecorded* r = e.mutable_report();
  r->set_participant_id("p-1");
  r->mutable_completion()->set_block_index(0);
  r->mutable_completion()->set_set(1);
  r->mutable_completion()->set_side(v1::SIDE_LEFT);
  r->mutable_completion()->set_reps(reps);
  return e;
}

TEST(ClassMirrorTest, EventsApplyOnceInOrder) {
  ClassMirror mirror;
  mirror.Apply(Snapshot());
  EXPECT_EQ(mirror.last_seq(), 10);
  mirror.Apply(Completion(11, 7));
  mirror.Apply(Completion(11, 7));  // replayed after a resume: ignored
  mirror.Apply(Completion(9, 7));   // older than the snapshot: ignored
  EXPECT_EQ(mirror.last_seq(), 11);
  const v1::RosterEntry& ana = mirror.roster()[0];
  EXPECT_EQ(ana.progress().total_reps(), 7);
  ASSERT_EQ(ana.progress().blocks_size(), 1);
  EXPECT_EQ(ana.progress().blocks(0).sets_done(), 1);
  EXPECT_EQ(ana.progress().blocks(0).sets_under_range(), 1);
  EXPECT_TRUE(ana.done_current());
}

TEST(ClassMirrorTest, StateChangesMoveTheIntervalAndClearDoneMarks) {
  ClassMirror mirror;
  mirror.Apply(Snapshot());
  mirror.Apply(Completion(11, 9));
  v1::ClassEvent next;
  next.set_seq(12);
  *next.mutable_state() = mirror.state();
  next.mutable_state()->mutable_current()->set_index(1);
  next.mutable_state()->mutable_current()->set_kind(v1::INTERVAL_KIND_REST);
  mirror.Apply(next);
  EXPECT_EQ(mirror.state().current().index(), 1);
  EXPECT_FALSE(mirror.roster()[0].done_current());
  // The rest follows the set just done: reports during it are about that.
  EXPECT_EQ(mirror.last_work().index(), 0);
  EXPECT_EQ(mirror.last_work().side(), v1::SIDE_LEFT);
}

TEST(ClassMirrorTest, CountdownRunsFromTheDeadlineAndFreezesWhenPaused) {
  ClassMirror mirror;
  mirror.Apply(Snapshot());
  EXPECT_EQ(mirror.RemainingMs(20'000), 30'000);
  EXPECT_EQ(mirror.RemainingMs(60'000), 0);
  v1::ClassEvent pause;
  pause.set_seq(11);
  *pause.mutable_state() = mirror.state();
  pause.mutable_state()->set_phase(v1::CLASS_PHASE_PAUSED);
  pause.mutable_state()->mutable_timer()->set_running(false);
  pause.mutable_state()->mutable_timer()->set_deadline_unix_ms(0);
  pause.mutable_state()->mutable_timer()->set_remaining_ms(12'345);
  mirror.Apply(pause);
  EXPECT_EQ(mirror.RemainingMs(99'000), 12'345);
}

TEST(ClassMirrorTest, RosterUpdatesReplaceWholeEntriesAndAddNewOnes) {
  ClassMirror mirror;
  mirror.Apply(Snapshot());
  v1::RosterUpdate update;
  v1::RosterEntry* ana = update.add_changed();
  ana->set_participant_id("p-1");
  ana->set_connection(v1::CONNECTION_STATE_DROPPED);
  update.add_changed()->set_participant_id("p-2");
  update.mutable_aggregates()->set_dropped_count(1);
  mirror.Apply(update);
  ASSERT_EQ(mirror.roster().size(), 2u);
  EXPECT_EQ(mirror.roster()[0].connection(), v1::CONNECTION_STATE_DROPPED);
  EXPECT_EQ(mirror.aggregates().dropped_count(), 1);
}

TEST(ClassMirrorTest, OwnReportsCountForTheParticipant) {
  v1::ParticipantSnapshot s;
  s.set_seq(3);
  s.set_participant_id("p-1");
  s.mutable_circuit()->add_blocks()->mutable_reps()->set_min_reps(8);
  ClassMirror mirror;
  mirror.Apply(s);
  mirror.Apply(Completion(4, 9));
  v1::ClassEvent effort;
  effort.set_seq(5);
  effort.mutable_report()->set_participant_id("p-1");
  effort.mutable_report()->mutable_effort()->set_feel(v1::EFFORT_FEEL_TOO_HARD);
  mirror.Apply(effort);
  EXPECT_EQ(mirror.own_progress().total_reps(), 9);
  EXPECT_EQ(mirror.own_progress().blocks(0).sets_under_range(), 0);
  EXPECT_EQ(mirror.own_progress().last_feel(), v1::EFFORT_FEEL_TOO_HARD);
  EXPECT_TRUE(mirror.roster().empty());
}

TEST(ClassMirrorTest, KeepsTheLatestTenCues) {
  ClassMirror mirror;
  mirror.Apply(Snapshot());
  for (int i = 0; i < 15; ++i) {
    v1::ClassEvent cue;
    cue.set_seq(11 + i);
    cue.mutable_cue()->set_text(std::to_string(i));
    mirror.Apply(cue);
  }
  ASSERT_EQ(mirror.recent_cues().size(), 10u);
  EXPECT_EQ(mirror.recent_cues().front().text(), "5");
  EXPECT_EQ(mirror.recent_cues().back().text(), "14");
}

}  // namespace
}  // namespace circuit::client
