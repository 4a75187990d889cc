// The class actor on its own: an in-memory journal, a fake clock, and
// streams whose writes complete only when the test says, so a slow reader is
// exactly as slow as the test makes it. Everything runs on the test's thread
// (ManualExecutor), so every run is the same run.

#include "server/live/class_actor.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "tests/testing/class_commands.h"

namespace circuit {
namespace {

using ::testing::HasSubstr;

// Runs posted tasks when the test drains it, on the test's thread.
class ManualExecutor : public Executor {
 public:
  void Post(Task task) override { tasks_.push_back(std::move(task)); }
  // Runs tasks (and those they post) until none is left.
  void Drain() {
    while (!tasks_.empty()) {
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      task();
    }
  }

 private:
  std::deque<Task> tasks_;
};

// The write side of one stream as a client that reads only when told:
// StartWriteBytes keeps the bytes; Read completes the write.
class ScriptedReader : public StreamSink {
 public:
  explicit ScriptedReader(size_t max_queued)
      : stream_(std::make_shared<Stream>(max_queued)) {
    stream_->Attach(this);
  }

  const std::shared_ptr<Stream>& stream() const { return stream_; }

  void StartWriteBytes(const grpc::ByteBuffer* bytes) override {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(bytes->Dump(&slices).ok());
    std::string message;
    for (const grpc::Slice& s : slices) {
      message.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    in_flight_ = std::move(message);
  }
  void FinishStream(const absl::Status& status) override {
    finished_ = true;
    status_ = status;
  }
  void AbortStream(const absl::Status& status) override {
    FinishStream(status);
  }

  // Takes the write in flight, if any: true when there was one.
  bool Read() {
    if (!in_flight_.has_value()) return false;
    written_.push_back(std::move(*in_flight_));
    in_flight_.reset();
    stream_->OnWriteDone(true);
    return true;
  }

  // The messages read so far, as `Response`.
  template <typename Response>
  std::vector<Response> Messages() const {
    std::vector<Response> out;
    for (const std::string& bytes : written_) {
      Response response;
      EXPECT_TRUE(response.ParseFromString(bytes));
      out.push_back(std::move(response));
    }
    return out;
  }

  bool finished() const { return finished_; }
  const absl::Status& status() const { return status_; }

 private:
  std::shared_ptr<Stream> stream_;
  std::optional<std::string> in_flight_;
  std::vector<std::string> written_;
  bool finished_ = false;
  absl::Status status_;
};

// The seqs of the events among `messages`, and of the snapshots' reasons.
template <typename Response>
std::vector<int64_t> EventSeqs(const std::vector<Response>& messages) {
  std::vector<int64_t> seqs;
  for (const Response& m : messages) {
    if (m.has_event()) seqs.push_back(m.event().seq());
  }
  return seqs;
}

template <typename Response>
std::vector<v1::SnapshotReason> SnapshotReasons(
    const std::vector<Response>& messages) {
  std::vector<v1::SnapshotReason> reasons;
  for (const Response& m : messages) {
    if (m.has_snapshot()) reasons.push_back(m.snapshot().reason());
  }
  return reasons;
}

constexpr size_t kQueue = 8;       // messages a stream may queue
constexpr size_t kRetention = 40;  // events the class keeps

class ClassActorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogQuiet(true);
    absl::StatusOr<CircuitLibrary> library = CircuitLibrary::LoadEmbedded();
    ASSERT_TRUE(library.ok()) << library.status();
    const v1::Circuit* circuit = library->FindCircuit("kickback-trio");
    ASSERT_NE(circuit, nullptr);
    internal::ClassRecord record;
    record.mutable_info()->set_class_id("c-actor");
    record.mutable_info()->set_join_code("ACTOR2");
    record.mutable_info()->set_circuit_id(circuit->id());
    record.mutable_info()->set_phase(v1::CLASS_PHASE_LOBBY);
    record.mutable_info()->set_studio_id("main");
    *record.mutable_circuit() = *circuit;
    for (v1::Exercise& e : library->ExercisesFor(*circuit)) {
      *record.add_exercises() = std::move(e);
    }
    ActorDeps deps;
    deps.journal = &journal_;
    deps.clock = &clock_;
    deps.executor = &executor_;
    deps.seats = &seats_;
    deps.session.retention_events = kRetention;
    absl::StatusOr<std::shared_ptr<ClassActor>> actor =
        ClassActor::Create(record, deps);
    ASSERT_TRUE(actor.ok()) << actor.status();
    actor_ = std::move(*actor);
    journal_.CreateClass(record, [](absl::Status status) {
      ASSERT_TRUE(status.ok()) << status;
    });
  }

  // Runs everything posted, reading every write of `readers` as it comes.
  void Pump(const std::vector<ScriptedReader*>& readers) {
    bool more = true;
    while (more) {
      executor_.Drain();
      more = false;
      for (ScriptedReader* r : readers) more = r->Read() || more;
    }
  }

  // An instructor command; it must be recorded.
  void Command(v1::InstructorCommand command) {
    command.set_command_id(absl::StrCat("cmd-", ++commands_));
    std::optional<absl::StatusOr<int64_t>> result;
    actor_->Command(command,
                    [&](absl::StatusOr<int64_t> seq) { result = seq; });
    executor_.Drain();
    ASSERT_TRUE(result.has_value()) << "no answer";
    ASSERT_TRUE(result->ok()) << result->status();
  }
  void Cue(int i) { Command(testing::CueCommand(absl::StrCat("cue ", i))); }

  // Joins a participant whose stream `reader` is read as it goes; returns
  // the participant id.
  std::string Join(ScriptedReader* reader, const std::string& name) {
    v1::JoinRequest request;
    request.set_join_code("ACTOR2");
    request.mutable_check_in()->set_display_name(name);
    std::string id;
    actor_->Join(reader->stream(), request,
                 [&](absl::StatusOr<std::string> joined) {
                   ASSERT_TRUE(joined.ok()) << joined.status();
                   id = *joined;
                 });
    Pump({reader});
    return id;
  }

  ManualExecutor executor_;
  FakeClock clock_;
  InMemoryJournal journal_;
  SeatTable seats_;
  std::shared_ptr<ClassActor> actor_;
  int commands_ = 0;
};

struct Gap {
  const char* name;
  int64_t missed;  // events between the client's last seq and the class's
};

// Each role resumes from `missed` events behind; its writes are read one
// at a time, with a cue between reads, so live events keep arriving while
// it catches up. The stream must be fed every event its role may see after
// its last seq, in order, once, then the live ones (or, past retention, a
// MISSED_EVENTS snapshot), and never be cut.
class ResumeGapTest : public ClassActorTest,
                      public ::testing::WithParamInterface<Gap> {};

// `want`: the seqs of every event after the client's last seq.
template <typename Response>
void ExpectCaughtUp(const ScriptedReader& resumed,
                    const std::vector<int64_t>& want, bool expect_snapshot) {
  ASSERT_FALSE(resumed.finished()) << resumed.status().message();
  const std::vector<Response> got = resumed.Messages<Response>();
  if (expect_snapshot) {
    ASSERT_FALSE(got.empty());
    ASSERT_TRUE(got.front().has_snapshot());
    EXPECT_EQ(got.front().snapshot().reason(),
              v1::SNAPSHOT_REASON_MISSED_EVENTS);
    // After the snapshot, what came live: a tail of the reference's events.
    const std::vector<int64_t> seqs = EventSeqs(got);
    ASSERT_LE(seqs.size(), want.size());
    EXPECT_EQ(seqs, std::vector<int64_t>(want.end() - seqs.size(), want.end()));
  } else {
    EXPECT_TRUE(SnapshotReasons(got).empty());
    EXPECT_EQ(EventSeqs(got), want);
  }
}

TEST_P(ResumeGapTest, EveryRoleCatchesUpWhateverTheGapWithinRetention) {
  const Gap gap = GetParam();
  ScriptedReader instructor(1000), kiosk(1000), phone(1000);
  actor_->AttachInstructor(instructor.stream(), 0);
  actor_->AttachKiosk(kiosk.stream(), 0);
  const std::string id = Join(&phone, "Ana");
  ASSERT_FALSE(id.empty());
  Command(testing::StartCommand());
  // More events than the class keeps, all public (cues), so the gap in
  // seqs is the gap every role sees.
  for (int i = 0; i < static_cast<int>(kRetention) + 20; ++i) Cue(i);
  Pump({&instructor, &kiosk, &phone});
  const std::vector<int64_t> seen =
      EventSeqs(instructor.Messages<v1::RunClassResponse>());
  ASSERT_GT(seen.size(), static_cast<size_t>(gap.missed));
  const int64_t last_seq = seen[seen.size() - 1 - gap.missed];
  const bool snapshot = gap.missed > static_cast<int64_t>(kRetention);

  ScriptedReader instructor2(kQueue), kiosk2(kQueue), phone2(kQueue);
  actor_->AttachInstructor(instructor2.stream(), last_seq);
  actor_->AttachKiosk(kiosk2.stream(), last_seq);
  actor_->Resume(phone2.stream(), id, last_seq,
                 [](absl::StatusOr<std::string> resumed) {
                   ASSERT_TRUE(resumed.ok()) << resumed.status();
                 });
  executor_.Drain();
  // The resumed streams read one write per cue; the references keep up.
  for (int i = 0; i < 3 * static_cast<int>(kQueue); ++i) {
    Cue(1000 + i);
    Pump({&instructor, &kiosk, &phone});
    instructor2.Read();
    kiosk2.Read();
    phone2.Read();
  }
  Pump({&instructor, &kiosk, &phone, &instructor2, &kiosk2, &phone2});

  // Every event after last_seq is a public cue, so the instructor's stream,
  // which stayed live throughout, has what each role should get.
  std::vector<int64_t> want;
  for (int64_t seq : EventSeqs(instructor.Messages<v1::RunClassResponse>())) {
    if (seq > last_seq) want.push_back(seq);
  }
  ExpectCaughtUp<v1::RunClassResponse>(instructor2, want, snapshot);
  ExpectCaughtUp<v1::WatchClassResponse>(kiosk2, want, snapshot);
  ExpectCaughtUp<v1::JoinClassResponse>(phone2, want, snapshot);
  // The superseded phone stream was told why.
  EXPECT_TRUE(phone.finished());
  EXPECT_EQ(phone.status().code(), absl::StatusCode::kAborted);
  // Caught up, the instructor has the whole roster again.
  bool roster = false;
  for (const auto& m : instructor2.Messages<v1::RunClassResponse>()) {
    if (m.has_roster() && !m.roster().changed().empty()) roster = true;
    if (m.has_snapshot()) roster = true;
  }
  EXPECT_TRUE(roster);
}

INSTANTIATE_TEST_SUITE_P(
    Gaps, ResumeGapTest,
    ::testing::Values(Gap{"Zero", 0}, Gap{"QueueLessOne", kQueue - 1},
                      Gap{"QueuePlusOne", kQueue + 1},
                      Gap{"RetentionLessOne", kRetention - 1},
                      Gap{"RetentionPlusOne", kRetention + 1}),
    [](const ::testing::TestParamInfo<Gap>& gap) { return gap.param.name; });

TEST_F(ClassActorTest, AReplayOvertakenByRetentionEndsInAMissedEventsSnapshot) {
  ScriptedReader instructor(1000);
  actor_->AttachInstructor(instructor.stream(), 0);
  Command(testing::StartCommand());
  for (int i = 0; i < static_cast<int>(kRetention) + 5; ++i) Cue(i);
  Pump({&instructor});
  const std::vector<int64_t> seen =
      EventSeqs(instructor.Messages<v1::RunClassResponse>());
  const int64_t last_seq = seen[seen.size() - kRetention + 1];

  ScriptedReader slow(kQueue);
  actor_->AttachInstructor(slow.stream(), last_seq);
  executor_.Drain();
  // It reads nothing while the class moves on by more than it keeps.
  for (int i = 0; i < static_cast<int>(kRetention); ++i) Cue(100 + i);
  Pump({&instructor});
  Pump({&instructor, &slow});
  Cue(200);  // live again after the snapshot
  Pump({&instructor, &slow});

  ASSERT_FALSE(slow.finished()) << slow.status().message();
  const auto got = slow.Messages<v1::RunClassResponse>();
  EXPECT_EQ(SnapshotReasons(got),
            std::vector<v1::SnapshotReason>{v1::SNAPSHOT_REASON_MISSED_EVENTS});
  // Before the snapshot, the first slice of the replay, in order from
  // last_seq; after it, the one live cue.
  std::vector<int64_t> before, after;
  bool snapshot_seen = false;
  for (const auto& m : got) {
    if (m.has_snapshot()) snapshot_seen = true;
    if (m.has_event()) {
      (snapshot_seen ? after : before).push_back(m.event().seq());
    }
  }
  // (It had read nothing, so only the slices that fit its queue went.)
  ASSERT_FALSE(before.empty());
  ASSERT_LE(before.size(), kQueue);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i], last_seq + 1 + static_cast<int64_t>(i));
  }
  EXPECT_EQ(after, std::vector<int64_t>{seen.back() +
                                        static_cast<int64_t>(kRetention) + 1});
}

TEST_F(ClassActorTest, AReaderThatStopsReadingIsCutSayingWhyAndResumes) {
  ScriptedReader instructor(1000), phone(1000);
  actor_->AttachInstructor(instructor.stream(), 0);
  const std::string id = Join(&phone, "Ana");
  Command(testing::StartCommand());
  Pump({&instructor, &phone});
  const std::vector<int64_t> before =
      EventSeqs(phone.Messages<v1::JoinClassResponse>());
  ASSERT_FALSE(before.empty());

  // The phone's next stream stops reading: its queue fills, and it is cut.
  ScriptedReader stalled(kQueue);
  actor_->Resume(stalled.stream(), id, before.back(),
                 [](absl::StatusOr<std::string>) {});
  executor_.Drain();
  for (int i = 0; i < static_cast<int>(kQueue) + 4; ++i) Cue(i);
  Pump({&instructor});
  ASSERT_TRUE(stalled.finished());
  EXPECT_EQ(stalled.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(stalled.status().message(), HasSubstr("resume"));

  // It resumes from the last seq it read (none of the cues) and gets them
  // all, then the live ones.
  ScriptedReader resumed(kQueue);
  actor_->Resume(
      resumed.stream(), id, before.back(),
      [](absl::StatusOr<std::string> r) { ASSERT_TRUE(r.ok()) << r.status(); });
  Pump({&instructor, &resumed});
  Cue(99);
  Pump({&instructor, &resumed});
  ASSERT_FALSE(resumed.finished());
  std::vector<std::string> cues;
  for (const auto& m : resumed.Messages<v1::JoinClassResponse>()) {
    if (m.has_event() && m.event().has_cue()) {
      cues.push_back(m.event().cue().text());
    }
  }
  ASSERT_EQ(cues.size(), kQueue + 5);
  EXPECT_EQ(cues.front(), "cue 0");
  EXPECT_EQ(cues.back(), "cue 99");
}

// A caller with no stream at all (a test here; another node forwarding a
// report, later) gets the outcome: recorded with its seq, the same seq and
// `duplicate` for a retried id, and a refusal that records nothing.
TEST_F(ClassActorTest, AReportIsAnsweredWithoutAStream) {
  ScriptedReader phone(1000);
  const std::string id = Join(&phone, "Ana");
  Command(testing::StartCommand());
  auto report = [&](const std::string& report_id, int reps) {
    internal::ReportInput input;
    input.set_participant_id(id);
    input.mutable_completion()->set_report_id(report_id);
    input.mutable_completion()->set_block_index(0);
    input.mutable_completion()->set_set(1);
    input.mutable_completion()->set_side(v1::SIDE_LEFT);
    input.mutable_completion()->set_reps(reps);
    std::optional<absl::StatusOr<engine::ReportResult>> outcome;
    actor_->Report(input, [&](absl::StatusOr<engine::ReportResult> result) {
      outcome = std::move(result);
    });
    executor_.Drain();
    EXPECT_TRUE(outcome.has_value()) << "no answer to " << report_id;
    return outcome.value_or(absl::UnknownError("no answer"));
  };
  const absl::StatusOr<engine::ReportResult> first = report("set-1", 9);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->seq, 0);
  EXPECT_FALSE(first->duplicate);
  const absl::StatusOr<engine::ReportResult> again = report("set-1", 9);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_TRUE(again->duplicate);
  const absl::StatusOr<engine::ReportResult> refused = report("set-2", -1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
      << refused.status();
}

}  // namespace
}  // namespace circuit
