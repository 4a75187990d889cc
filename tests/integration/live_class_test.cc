// A whole live class against a real in-process circuitd: instructor,
// participants and kiosks over real gRPC streams.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/live_harness.h"

namespace circuit::testing {
namespace {

using Messages = std::vector<v1::RunClassResponse>;

TEST(LiveClassTest, TwentyParticipantsAndTwoKiosksRunTheKickbackTrio) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  ASSERT_EQ(info.join_code().size(), 6u);
  ASSERT_EQ(info.join_code().find_first_of("0O1I"), std::string::npos);

  auto instructor = server.Instruct(info.class_id());
  std::vector<std::unique_ptr<KioskClient>> kiosks;
  kiosks.push_back(server.Watch(info.class_id()));
  kiosks.push_back(server.Watch(info.class_id()));

  constexpr int kParticipants = 20;
  std::vector<std::unique_ptr<ParticipantClient>> participants;
  std::set<std::string> consenting_names;
  std::set<std::string> private_names;
  for (int i = 0; i < kParticipants; ++i) {
    std::string name = absl::StrCat("Participant ", i + 1);
    bool show = i % 2 == 0;
    (show ? consenting_names : private_names).insert(name);
    participants.push_back(server.Join(info.join_code(), name, show));
    ASSERT_FALSE(participants.back()->participant_id.empty());
  }

  v1::CommandResult started =
      instructor->Send(Cmd([](auto* c) { c->mutable_start(); }));
  ASSERT_EQ(started.code(), 0) << started.message();
  v1::ClassState state = StateAfter(*instructor, started.seq());

  std::map<std::string, int> expected_reps;
  int work_intervals = 0;
  int guard = 0;
  while (state.phase() != v1::CLASS_PHASE_ENDED && guard++ < 100) {
    ASSERT_EQ(state.phase(), v1::CLASS_PHASE_RUNNING);
    const v1::Interval& current = state.current();
    if (current.kind() == v1::INTERVAL_KIND_WORK) {
      ++work_intervals;
      for (int i = 0; i < kParticipants; ++i) {
        auto& p = *participants[i];
        int reps = 8 + (i + current.index()) % 3;
        std::string id = absl::StrCat("r-", current.index());
        v1::ReportAck ack =
            p.Report(Completion(id, current.block_index(), current.set(),
                                current.side(), reps),
                     id);
        ASSERT_EQ(ack.code(), 0) << ack.message();
        EXPECT_FALSE(ack.duplicate());
        expected_reps[p.participant_id] += reps;
      }
    }
    v1::CommandResult next =
        instructor->Send(Cmd([](auto* c) { c->mutable_next(); }));
    ASSERT_EQ(next.code(), 0) << next.message();
    state = StateAfter(*instructor, next.seq());
  }
  ASSERT_EQ(state.phase(), v1::CLASS_PHASE_ENDED);
  EXPECT_EQ(work_intervals, 3 * 2 * 2);  // blocks x sets x sides

  // Every count right, as a fresh instructor view sees it.
  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  ASSERT_EQ(snapshot.roster_size(), kParticipants);
  int total = 0;
  for (const v1::RosterEntry& entry : snapshot.roster()) {
    EXPECT_EQ(entry.progress().total_reps(),
              expected_reps[entry.participant_id()])
        << entry.check_in().display_name();
    EXPECT_EQ(entry.connection(), v1::CONNECTION_STATE_CONNECTED);
    int sets = 0;
    for (const auto& block : entry.progress().blocks()) {
      sets += block.sets_done();
    }
    EXPECT_EQ(sets, work_intervals);
    total += entry.progress().total_reps();
  }
  EXPECT_EQ(snapshot.progress().total_reps(), total);

  // Kiosks saw the whole class end, and never anything private.
  for (auto& kiosk : kiosks) {
    EXPECT_TRUE(
        kiosk->in.WaitFor([](const std::vector<v1::WatchClassResponse>& all) {
          for (const auto& m : all) {
            if (m.has_event() && m.event().has_state() &&
                m.event().state().phase() == v1::CLASS_PHASE_ENDED) {
              return true;
            }
          }
          return false;
        }));
    // The last progress shows the whole class's reps.
    EXPECT_TRUE(
        kiosk->in.WaitFor([&](const std::vector<v1::WatchClassResponse>& all) {
          for (auto it = all.rbegin(); it != all.rend(); ++it) {
            if (it->has_progress()) {
              return it->progress().total_reps() == total;
            }
          }
          return false;
        }));
    for (const auto& m : kiosk->in.messages()) {
      if (m.has_event()) {
        EXPECT_TRUE(m.event().has_state() || m.event().has_cue())
            << "a kiosk got " << m.event().ShortDebugString();
      }
      if (m.has_progress()) {
        for (const auto& entry : m.progress().wall()) {
          EXPECT_EQ(private_names.count(entry.display_name()), 0u)
              << entry.display_name() << " did not consent to the kiosk";
          EXPECT_EQ(consenting_names.count(entry.display_name()), 1u);
        }
      }
    }
  }

  // Each participant saw only their own reports.
  for (auto& p : participants) {
    for (const auto& m : p->in.messages()) {
      if (m.has_event() && m.event().has_report()) {
        EXPECT_EQ(m.event().report().participant_id(), p->participant_id);
      }
      EXPECT_FALSE(m.has_event() && m.event().has_alert());
      EXPECT_FALSE(m.has_event() && m.event().has_connection());
    }
  }
  instructor->Close();
}

TEST(LiveClassTest, CutConnectionResumesWithNothingLostOrDoubled) {
  LiveServer server;
  v1::ClassInfo info = server.CreateClass("kickback-trio");
  auto instructor = server.Instruct(info.class_id());
  auto own_stub = server.NewStub();
  auto p = server.Join(info.join_code(), "Dana", true, own_stub.get());
  v1::CommandResult started =
      instructor->Send(Cmd([](auto* c) { c->mutable_start(); }));
  ASSERT_EQ(started.code(), 0);

  v1::ReportAck first =
      p->Report(Completion("left-1", 0, 1, v1::SIDE_LEFT, 9), "left-1");
  ASSERT_EQ(first.code(), 0) << first.message();
  int64_t last_seq = p->LastSeq();

  // Cut the connection. The seat is held: the instructor sees a drop.
  p->context->TryCancel();
  p->in.WaitDone();
  EXPECT_TRUE(instructor->in.WaitFor([&](const Messages& all) {
    for (const auto& m : all) {
      if (m.has_event() && m.event().has_connection() &&
          m.event().connection().participant_id() == p->participant_id &&
          m.event().connection().connection() == v1::CONNECTION_STATE_DROPPED) {
        return true;
      }
    }
    return false;
  }));

  // Meanwhile the class moves on.
  v1::CommandResult cue = instructor->Send(Cmd(
      [](auto* c) { c->mutable_cue()->set_text("Breathe out as you kick"); }));
  ASSERT_EQ(cue.code(), 0);

  auto resumed = server.Resume(p->resume_token, last_seq);
  // The missed cue arrives as an event, not as a fresh snapshot.
  EXPECT_TRUE(
      resumed->in.WaitFor([](const std::vector<v1::JoinClassResponse>& all) {
        for (const auto& m : all) {
          if (m.has_event() && m.event().has_cue()) return true;
        }
        return false;
      }));
  for (const auto& m : resumed->in.messages()) {
    EXPECT_FALSE(m.has_snapshot()) << "resume inside retention got a snapshot";
  }

  // The retry of the acknowledged report is acknowledged again, counted once.
  v1::ReportAck retry =
      resumed->Report(Completion("left-1", 0, 1, v1::SIDE_LEFT, 9), "left-1");
  EXPECT_EQ(retry.code(), 0);
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.seq(), first.seq());
  v1::ReportAck second = resumed->Report(
      Completion("right-1", 0, 1, v1::SIDE_RIGHT, 8), "right-1");
  EXPECT_EQ(second.code(), 0) << second.message();
  EXPECT_FALSE(second.duplicate());

  v1::InstructorSnapshot snapshot = FreshSnapshot(server, info.class_id());
  ASSERT_EQ(snapshot.roster_size(), 1);
  EXPECT_EQ(snapshot.roster(0).progress().total_reps(), 17);
  EXPECT_EQ(snapshot.roster(0).connection(), v1::CONNECTION_STATE_CONNECTED);
  instructor->Close();
}

}  // namespace
}  // namespace circuit::testing
