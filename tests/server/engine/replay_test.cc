// Replaying a class's journal through a fresh ClassSession rebuilds it
// exactly: the same outcomes, events, snapshots and summaries.

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "server/engine/class_session.h"
#include "tests/testing/class_commands.h"

namespace circuit::engine {
namespace {

using ::circuit::testing::AdjustTimeCommand;
using ::circuit::testing::CannedCueCommand;
using ::circuit::testing::CueCommand;
using ::circuit::testing::DecideCommand;
using ::circuit::testing::NextCommand;
using ::circuit::testing::PauseCommand;
using ::circuit::testing::PreviousCommand;
using ::circuit::testing::ResumeCommand;
using ::circuit::testing::StartCommand;

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
const std::vector<std::string> kParticipants = {"p1", "p2", "p3", "p4"};

const CircuitLibrary& Library() {
  static const CircuitLibrary* library = [] {
    auto loaded = CircuitLibrary::LoadEmbedded();
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new CircuitLibrary(std::move(*loaded));
  }();
  return *library;
}

std::unique_ptr<ClassSession> NewSession(
    const std::string& circuit_id = "kickback-trio") {
  const v1::Circuit* circuit = Library().FindCircuit(circuit_id);
  EXPECT_NE(circuit, nullptr);
  v1::ClassInfo info;
  info.set_class_id("c-replay");
  info.set_join_code("KQZ789");
  info.set_circuit_id(circuit->id());
  info.set_circuit_name(circuit->name());
  info.set_title("Morning trio");
  info.set_created_unix_ms(absl::ToUnixMillis(kT0));
  SessionOptions options;
  options.hold = absl::Minutes(2);  // so a hold runs out within the class
  return std::make_unique<ClassSession>(info, *circuit, &Library(), options);
}

// Everything one applied entry produced, to compare with its replay.
struct Applied {
  EntryOutcome outcome;
  std::string events;    // the events it emitted, serialized
  std::string snapshot;  // the instructor snapshot right after it
};

std::string Serialize(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    absl::StrAppend(&out, static_cast<int>(e.audience), "|", e.participant_id,
                    "|", e.event.SerializeAsString(), "\n");
  }
  return out;
}

Applied Apply(ClassSession& session, const internal::Entry& entry) {
  Applied applied;
  applied.outcome = session.ApplyEntry(entry);
  applied.events = Serialize(session.DrainEvents());
  applied.snapshot =
      session.InstructorSnapshot(absl::FromUnixMillis(entry.at_unix_ms()))
          .SerializeAsString();
  return applied;
}

void ExpectSameOutcome(const EntryOutcome& replayed,
                       const EntryOutcome& original, size_t i) {
  EXPECT_EQ(replayed.status, original.status) << "entry " << i;
  EXPECT_EQ(replayed.seq, original.seq) << "entry " << i;
  EXPECT_EQ(replayed.duplicate, original.duplicate) << "entry " << i;
}

void ExpectSameMessage(const google::protobuf::Message& replayed,
                       const google::protobuf::Message& original,
                       const std::string& what) {
  if (replayed.SerializeAsString() != original.SerializeAsString()) {
    ADD_FAILURE() << what << " differs.\nreplayed:\n"
                  << replayed.DebugString() << "\noriginal:\n"
                  << original.DebugString();
  }
}

// A caller that journals as circuitd does: each input becomes an Entry
// stamped with the server clock, is committed (kept in entries()) and only
// then applied, through ApplyEntry. Its timer runs every 100 ms and journals
// a tick only when one is due.
class JournalingCaller {
 public:
  explicit JournalingCaller(std::string circuit_id = "kickback-trio")
      : circuit_id_(std::move(circuit_id)), session_(NewSession(circuit_id_)) {}

  const std::string& circuit_id() const { return circuit_id_; }

  ClassSession& session() { return *session_; }
  absl::Time now() const { return now_; }
  const std::vector<internal::Entry>& entries() const { return entries_; }
  const std::vector<Applied>& applied() const { return applied_; }

  EntryOutcome Submit(internal::Entry entry) {
    entry.set_at_unix_ms(absl::ToUnixMillis(now_));
    entries_.push_back(std::move(entry));
    applied_.push_back(Apply(*session_, entries_.back()));
    return applied_.back().outcome;
  }

  void Advance(absl::Duration duration) {
    const absl::Time until = now_ + duration;
    while (now_ < until) {
      now_ = std::min(now_ + absl::Milliseconds(100), until);
      if (session_->TickDue(now_)) {
        internal::Entry tick;
        tick.mutable_tick();
        Submit(std::move(tick));
      }
    }
  }

  EntryOutcome Join(const std::string& id, const std::string& name,
                    bool show_name) {
    internal::Entry entry;
    entry.mutable_join()->set_participant_id(id);
    entry.mutable_join()->mutable_check_in()->set_display_name(name);
    entry.mutable_join()->mutable_check_in()->set_show_name_on_kiosk(show_name);
    entry.mutable_join()->set_resume_token_sha256("not the engine's business");
    return Submit(std::move(entry));
  }

  EntryOutcome Connection(const std::string& id, v1::ConnectionState state) {
    internal::Entry entry;
    entry.mutable_connection()->set_participant_id(id);
    entry.mutable_connection()->set_state(state);
    return Submit(std::move(entry));
  }

  EntryOutcome Complete(const std::string& id, const std::string& report_id,
                        int block, int set, v1::Side side, int reps) {
    internal::Entry entry;
    entry.mutable_report()->set_participant_id(id);
    v1::CompletionReport* r = entry.mutable_report()->mutable_completion();
    r->set_report_id(report_id);
    r->set_block_index(block);
    r->set_set(set);
    r->set_side(side);
    r->set_reps(reps);
    return Submit(std::move(entry));
  }

  // A set of a combination exercise, logged part by part.
  EntryOutcome CompleteParts(
      const std::string& id, const std::string& report_id, int block, int set,
      int reps, const std::vector<std::pair<std::string, int>>& parts) {
    internal::Entry entry;
    entry.mutable_report()->set_participant_id(id);
    v1::CompletionReport* r = entry.mutable_report()->mutable_completion();
    r->set_report_id(report_id);
    r->set_block_index(block);
    r->set_set(set);
    r->set_side(v1::SIDE_BOTH);
    r->set_reps(reps);
    for (const auto& [part_id, amount] : parts) {
      v1::PartDone* done = r->add_parts();
      done->set_part_id(part_id);
      done->set_amount(amount);
    }
    return Submit(std::move(entry));
  }

  EntryOutcome Effort(const std::string& id, const std::string& report_id,
                      int block, v1::EffortFeel feel,
                      std::optional<int> cr10 = std::nullopt) {
    internal::Entry entry;
    entry.mutable_report()->set_participant_id(id);
    v1::EffortReport* r = entry.mutable_report()->mutable_effort();
    r->set_report_id(report_id);
    r->set_block_index(block);
    r->set_feel(feel);
    if (cr10.has_value()) r->set_cr10(*cr10);
    return Submit(std::move(entry));
  }

  EntryOutcome Symptom(const std::string& id, const std::string& report_id,
                       int block, v1::Symptom symptom) {
    internal::Entry entry;
    entry.mutable_report()->set_participant_id(id);
    v1::SymptomReport* r = entry.mutable_report()->mutable_symptom();
    r->set_report_id(report_id);
    r->set_block_index(block);
    r->set_symptom(symptom);
    return Submit(std::move(entry));
  }

  EntryOutcome Command(v1::InstructorCommand command) {
    command.set_command_id(absl::StrCat("cmd-", ++commands_));
    internal::Entry entry;
    *entry.mutable_command() = std::move(command);
    return Submit(std::move(entry));
  }

  EntryOutcome Restart() {
    internal::Entry entry;
    entry.mutable_restart();
    return Submit(std::move(entry));
  }

  EntryOutcome Token(const std::string& id) {
    internal::Entry entry;
    entry.mutable_token()->set_participant_id(id);
    entry.mutable_token()->set_resume_token_sha256("a new token's hash");
    return Submit(std::move(entry));
  }

 private:
  std::string circuit_id_;
  std::unique_ptr<ClassSession> session_;
  absl::Time now_ = kT0;
  std::vector<internal::Entry> entries_;
  std::vector<Applied> applied_;
  int commands_ = 0;
};

// Replays `caller`'s entries into a fresh session, checking each entry's
// outcome, events and instructor snapshot against the original's as it goes,
// then everything a reader can see at the end.
void ExpectReplayIsIdentical(JournalingCaller& caller) {
  std::unique_ptr<ClassSession> replay = NewSession(caller.circuit_id());
  const std::vector<internal::Entry>& entries = caller.entries();
  ASSERT_EQ(entries.size(), caller.applied().size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Applied replayed = Apply(*replay, entries[i]);
    const Applied& original = caller.applied()[i];
    ExpectSameOutcome(replayed.outcome, original.outcome, i);
    EXPECT_EQ(replayed.events, original.events)
        << "entry " << i << ": " << entries[i].DebugString();
    EXPECT_EQ(replayed.snapshot, original.snapshot)
        << "entry " << i << ": " << entries[i].DebugString();
  }

  ClassSession& session = caller.session();
  const absl::Time at = caller.now();
  EXPECT_EQ(replay->last_seq(), session.last_seq());
  ExpectSameMessage(replay->InstructorSnapshot(at),
                    session.InstructorSnapshot(at), "instructor snapshot");
  for (const std::string& id : kParticipants) {
    auto replayed = replay->ParticipantSnapshot(id, at);
    auto original = session.ParticipantSnapshot(id, at);
    ASSERT_EQ(replayed.ok(), original.ok()) << id;
    if (original.ok()) {
      ExpectSameMessage(*replayed, *original, "participant snapshot " + id);
    }
    EXPECT_EQ(replay->Connection(id), session.Connection(id)) << id;
  }
  ExpectSameMessage(replay->KioskSnapshot(at), session.KioskSnapshot(at),
                    "kiosk snapshot");
  ExpectSameMessage(replay->Summary(at), session.Summary(at), "summary");
  ExpectSameMessage(replay->WallSummary(), session.WallSummary(),
                    "wall summary");
  EXPECT_EQ(replay->TickDue(at), session.TickDue(at));

  // The retained logs, seq by seq.
  auto replayed_log = replay->EventsAfter(0);
  auto original_log = session.EventsAfter(0);
  ASSERT_TRUE(replayed_log.has_value());
  ASSERT_TRUE(original_log.has_value());
  ASSERT_EQ(replayed_log->size(), original_log->size());
  EXPECT_EQ(static_cast<int64_t>(original_log->size()), session.last_seq());
  for (size_t i = 0; i < original_log->size(); ++i) {
    const Event& r = *(*replayed_log)[i];
    const Event& o = *(*original_log)[i];
    EXPECT_EQ(r.event.seq(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(r.event.SerializeAsString(), o.event.SerializeAsString())
        << "seq " << o.event.seq();
    EXPECT_EQ(r.audience, o.audience) << "seq " << o.event.seq();
    EXPECT_EQ(r.participant_id, o.participant_id) << "seq " << o.event.seq();
  }
}

int CountAlerts(const v1::ClassSummary& summary, v1::AlertKind kind) {
  int n = 0;
  for (const auto& p : summary.participants()) {
    for (const v1::Alert& a : p.alerts()) n += a.kind() == kind;
  }
  return n;
}

int CountSuggestions(const v1::ClassSummary& summary, v1::SuggestionKind kind) {
  int n = 0;
  for (const auto& p : summary.participants()) {
    for (const v1::Suggestion& s : p.suggestions()) n += s.kind() == kind;
  }
  return n;
}

TEST(ReplayTest, AWholeClassReplaysToTheSameEventsStateAndSummary) {
  JournalingCaller c;
  ASSERT_TRUE(c.Join("p1", "Ana", true).status.ok());
  ASSERT_TRUE(c.Join("p2", "Bo", false).status.ok());
  ASSERT_TRUE(c.Join("p3", "Cy", true).status.ok());
  ASSERT_TRUE(c.Join("p4", "Dee", true).status.ok());
  EXPECT_EQ(c.Join("p1", "Ana again", true).status.code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(
      c.Symptom("p4", "d-s1", 0, v1::SYMPTOM_LOW_BACK_PAIN).status.ok());
  EXPECT_EQ(c.Complete("p1", "a-0", 0, 1, v1::SIDE_LEFT, 9).status.code(),
            absl::StatusCode::kFailedPrecondition);  // in the lobby
  c.Advance(absl::Seconds(10));
  ASSERT_TRUE(c.Command(StartCommand()).status.ok());

  // Block 0, set 1, left side.
  c.Advance(absl::Seconds(20));
  ASSERT_TRUE(c.Complete("p1", "a-1", 0, 1, v1::SIDE_LEFT, 9).status.ok());
  ASSERT_TRUE(c.Complete("p2", "b-1", 0, 1, v1::SIDE_LEFT, 6).status.ok());
  ASSERT_TRUE(c.Complete("p3", "c-1", 0, 1, v1::SIDE_LEFT, 10).status.ok());
  ASSERT_TRUE(c.Command(CueCommand("Squeeze at the top")).status.ok());

  // Through the 15 s rest by ticks, into the right side.
  c.Advance(absl::Seconds(45));
  ASSERT_EQ(c.session().State(c.now()).current().index(), 2);
  ASSERT_TRUE(c.Complete("p2", "b-2", 0, 1, v1::SIDE_RIGHT, 5).status.ok());
  ASSERT_TRUE(c.Complete("p3", "c-2", 0, 1, v1::SIDE_RIGHT, 10).status.ok());
  ASSERT_TRUE(c.Complete("p1", "a-2", 0, 1, v1::SIDE_RIGHT, 8).status.ok());
  ASSERT_TRUE(c.Effort("p1", "a-e1", 0, v1::EFFORT_FEEL_TOO_HARD).status.ok());
  ASSERT_TRUE(
      c.Effort("p3", "c-e1", 0, v1::EFFORT_FEEL_UNSPECIFIED, 2).status.ok());
  ASSERT_TRUE(c.Connection("p3", v1::CONNECTION_STATE_DROPPED).status.ok());
  c.Advance(absl::Seconds(10));
  ASSERT_TRUE(
      c.Effort("p1", "a-e2", 0, v1::EFFORT_FEEL_UNSPECIFIED, 9).status.ok());

  ASSERT_TRUE(c.Command(PauseCommand()).status.ok());
  c.Advance(absl::Seconds(30));
  ASSERT_TRUE(c.Command(ResumeCommand()).status.ok());
  ASSERT_TRUE(c.Connection("p3", v1::CONNECTION_STATE_CONNECTED).status.ok());
  ASSERT_TRUE(c.Command(DecideCommand("s2", v1::SUGGESTION_DECISION_ACCEPTED))
                  .status.ok());
  ASSERT_TRUE(c.Command(AdjustTimeCommand(10000)).status.ok());
  ASSERT_TRUE(c.Connection("p4", v1::CONNECTION_STATE_DROPPED).status.ok());
  ASSERT_TRUE(c.Command(NextCommand()).status.ok());
  ASSERT_TRUE(c.Symptom("p2", "b-s1", 0, v1::SYMPTOM_HIP_PINCH).status.ok());
  ASSERT_TRUE(c.Symptom("p1", "a-s1", 0, v1::SYMPTOM_LEAKING).status.ok());
  EXPECT_TRUE(c.Complete("p1", "a-1", 0, 1, v1::SIDE_LEFT, 9).duplicate);
  EXPECT_EQ(c.Complete("p1", "a-bad", 0, 1, v1::SIDE_LEFT, 150).status.code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(c.Token("p2").status.ok());
  ASSERT_TRUE(c.Command(CannedCueCommand(0)).status.ok());

  // p4 never comes back: their hold runs out on a tick.
  c.Advance(absl::Minutes(3));
  ASSERT_EQ(c.session().Connection("p4"), v1::CONNECTION_STATE_LEFT);
  ASSERT_TRUE(c.Command(DecideCommand("s1", v1::SUGGESTION_DECISION_DISMISSED))
                  .status.ok());
  EXPECT_EQ(c.Command(DecideCommand("s99", v1::SUGGESTION_DECISION_ACCEPTED))
                .status.code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(c.Command(PreviousCommand()).status.ok());
  const int32_t block = c.session().State(c.now()).current().block_index();
  ASSERT_TRUE(c.Complete("p3", "c-3", block, 2, v1::SIDE_LEFT, 7).status.ok());

  // The rest of the class by ticks alone.
  c.Advance(absl::Minutes(20));
  ASSERT_EQ(c.session().phase(), v1::CLASS_PHASE_ENDED);
  ASSERT_TRUE(c.Connection("p1", v1::CONNECTION_STATE_DROPPED).status.ok());
  EXPECT_EQ(c.Complete("p2", "b-9", 0, 2, v1::SIDE_LEFT, 9).status.code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(c.Command(DecideCommand("s3", v1::SUGGESTION_DECISION_ACCEPTED))
                  .status.ok());
  c.Advance(absl::Seconds(1));

  // The class went the way the test means it to, so the replay covers it.
  const v1::ClassSummary summary = c.session().Summary(c.now());
  EXPECT_EQ(CountAlerts(summary, v1::ALERT_KIND_SYMPTOM), 3);
  EXPECT_EQ(CountAlerts(summary, v1::ALERT_KIND_REPEATED_TOO_HARD), 1);
  EXPECT_EQ(CountAlerts(summary, v1::ALERT_KIND_DROPPED), 2);
  EXPECT_EQ(CountSuggestions(summary, v1::SUGGESTION_KIND_REGRESSION), 2);
  EXPECT_EQ(CountSuggestions(summary, v1::SUGGESTION_KIND_PROGRESSION), 1);
  EXPECT_EQ(CountSuggestions(summary, v1::SUGGESTION_KIND_LOWER_LOAD), 1);
  EXPECT_EQ(c.session().Connection("p1"), v1::CONNECTION_STATE_LEFT);
  int ticks = 0;
  for (const internal::Entry& e : c.entries()) ticks += e.has_tick();
  EXPECT_GE(ticks, 22);  // every timed interval moved on by a tick

  ExpectReplayIsIdentical(c);
}

// The 8-8-8 hip thrust logged part by part (and a refused report of parts)
// replays to the same summary.
TEST(ReplayTest, PartsOfACombinationSetReplay) {
  JournalingCaller c("glute-foundations");
  ASSERT_TRUE(c.Join("p1", "Ana", true).status.ok());
  ASSERT_TRUE(c.Command(StartCommand()).status.ok());
  int32_t thrust = -1;
  const v1::Circuit* circuit = Library().FindCircuit("glute-foundations");
  for (int b = 0; b < circuit->blocks_size(); ++b) {
    if (circuit->blocks(b).exercise_id() == "hip-thrust-8-8-8") thrust = b;
  }
  ASSERT_GE(thrust, 0);
  for (int i = 0;
       i < 40 && c.session().State(c.now()).current().block_index() < thrust;
       ++i) {
    ASSERT_TRUE(c.Command(NextCommand()).status.ok());
  }
  ASSERT_EQ(c.session().State(c.now()).current().block_index(), thrust);
  ASSERT_TRUE(
      c.CompleteParts("p1", "t-1", thrust, 1, 8,
                      {{"full-range", 8}, {"partial-range", 6}, {"hold", 5}})
          .status.ok());
  EXPECT_EQ(c.CompleteParts("p1", "t-2", thrust, 1, 8, {{"full-range", 8}})
                .status.code(),
            absl::StatusCode::kInvalidArgument);
  const v1::ClassSummary summary = c.session().Summary(c.now());
  ASSERT_EQ(summary.participants(0).sets_size(), 1);
  ASSERT_EQ(summary.participants(0).sets(0).parts_size(), 3);
  EXPECT_EQ(summary.participants(0).sets(0).parts(1).amount(), 6);

  ExpectReplayIsIdentical(c);
}

TEST(ReplayTest, ARestartReplaysIdentically) {
  JournalingCaller c;
  ASSERT_TRUE(c.Join("p1", "Ana", true).status.ok());
  ASSERT_TRUE(c.Join("p2", "Bo", false).status.ok());
  ASSERT_TRUE(c.Join("p3", "Cy", true).status.ok());
  ASSERT_TRUE(c.Command(StartCommand()).status.ok());
  c.Advance(absl::Seconds(20));
  ASSERT_TRUE(c.Complete("p1", "a-1", 0, 1, v1::SIDE_LEFT, 9).status.ok());
  ASSERT_TRUE(c.Connection("p2", v1::CONNECTION_STATE_DROPPED).status.ok());
  c.Advance(absl::Seconds(5));

  // circuitd went away for a while and came back.
  const int64_t seq_before = c.session().last_seq();
  ASSERT_TRUE(c.Restart().status.ok());
  ASSERT_EQ(c.session().phase(), v1::CLASS_PHASE_PAUSED);
  ASSERT_EQ(c.session().last_seq(), seq_before + 4);  // state, cue, p1, p3
  ASSERT_EQ(c.session().Connection("p1"), v1::CONNECTION_STATE_DROPPED);
  c.Advance(absl::Seconds(30));
  ASSERT_TRUE(c.Connection("p1", v1::CONNECTION_STATE_CONNECTED).status.ok());
  ASSERT_TRUE(c.Command(ResumeCommand()).status.ok());
  c.Advance(absl::Minutes(3));  // p2's and p3's holds run out
  ASSERT_EQ(c.session().Connection("p2"), v1::CONNECTION_STATE_LEFT);
  ASSERT_EQ(c.session().Connection("p3"), v1::CONNECTION_STATE_LEFT);
  ASSERT_TRUE(c.Complete("p1", "a-2", 0, 1, v1::SIDE_RIGHT, 10).status.ok());
  // A second restart, of a paused class.
  ASSERT_TRUE(c.Command(PauseCommand()).status.ok());
  ASSERT_TRUE(c.Restart().status.ok());
  c.Advance(absl::Seconds(2));

  ExpectReplayIsIdentical(c);
}

// A damaged journal (tests/fuzz/journal_replay_fuzzer) held a drop at a time
// near the end of int64 milliseconds; its hold (time + 10 minutes) overflowed.
// Such entries are refused and change nothing.
TEST(ReplayTest, EntriesDatedBefore1970OrAfter9999AreRefused) {
  std::unique_ptr<ClassSession> session = NewSession();
  internal::Entry join;
  join.set_at_unix_ms(absl::ToUnixMillis(kT0));
  join.mutable_join()->set_participant_id("p1");
  join.mutable_join()->mutable_check_in()->set_display_name("Ana");
  ASSERT_TRUE(session->ApplyEntry(join).status.ok());
  session->DrainEvents();
  const std::string before =
      session->InstructorSnapshot(kT0).SerializeAsString();

  for (const int64_t at :
       {int64_t{9'223'372'036'854'775'000}, int64_t{253'402'300'800'000},
        int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    internal::Entry drop;
    drop.set_at_unix_ms(at);
    drop.mutable_connection()->set_participant_id("p1");
    drop.mutable_connection()->set_state(v1::CONNECTION_STATE_DROPPED);
    const EntryOutcome outcome = session->ApplyEntry(drop);
    EXPECT_EQ(outcome.status.code(), absl::StatusCode::kInvalidArgument) << at;
    EXPECT_THAT(std::string(outcome.status.message()),
                ::testing::HasSubstr("between 1970 and 9999"));
  }
  EXPECT_TRUE(session->DrainEvents().empty());
  EXPECT_EQ(session->InstructorSnapshot(kT0).SerializeAsString(), before);

  // The last millisecond of 9999 is still a time.
  internal::Entry tick;
  tick.set_at_unix_ms(253'402'300'799'999);
  tick.mutable_tick();
  EXPECT_TRUE(session->ApplyEntry(tick).status.ok());
}

}  // namespace
}  // namespace circuit::engine
