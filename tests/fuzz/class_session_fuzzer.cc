// Fuzzes a live class: participant messages (JoinClassRequest) and
// instructor messages (RunClassRequest), as they arrive on the streams,
// applied to an engine::ClassSession on a fake clock the way its ClassActor
// applies them (check, then apply; journal only what was accepted).
//
// Input: one byte choosing the circuit and the hold, then records, each
//   op (1 byte), arg (1 byte), and for ops 0 and 1 a chunk: a 2-byte
//   little-endian length and that many bytes of serialized message.
//   op % 8 == 0  participant arg % 8 sends a JoinClassRequest
//             1  the instructor sends a RunClassRequest
//             2  time passes: (arg & 0x7f) * 250 ms, 40x that with 0x80;
//                then a tick, when one is due
//             3  participant arg % 8's stream drops (arg & 8: reconnects)
//             4  circuitd restarts
//             5  a participant asks for her health data to be erased
//                (arg & 8: every participant's)
//             6  a client resumes from seq (arg * 3): EventsAfter
//             7  every snapshot and summary is read
//
// Invariants checked after every step (any break aborts):
// - a refused input emits nothing and changes no counter;
// - Check* agrees with what applying says (CheckJoin, CheckReport);
// - events come numbered 1, 2, 3... and no tick is due right after a tick;
// - snapshots, summaries and progress serialize and parse back, and the
//   class-wide counts equal those recomputed from the roster;
// and at the end: replaying the accepted inputs (the journal) through a
// fresh session rebuilds the same class, as crash recovery relies on.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/engine/class_session.h"
#include "server/library/circuit_library.h"
#include "tests/fuzz/fuzz_input.h"

namespace circuit::fuzz {
namespace {

constexpr int kSlots = 8;
const absl::Time kStart = absl::FromUnixMillis(1'780'000'000'000);

const CircuitLibrary& Library() {
  static const CircuitLibrary* library = [] {
    absl::StatusOr<CircuitLibrary> loaded = CircuitLibrary::LoadEmbedded();
    if (!loaded.ok()) {
      std::fprintf(stderr, "embedded library: %s\n",
                   loaded.status().ToString().c_str());
      std::abort();
    }
    return new CircuitLibrary(*std::move(loaded));
  }();
  return *library;
}

// What the journal would hold: an accepted input, or an erase (which the
// journal applies to its log rather than appending).
struct Erase {
  std::string participant_id;
};
using Journaled = std::variant<internal::Entry, Erase>;

std::unique_ptr<engine::ClassSession> NewSession(uint8_t setup) {
  const std::vector<v1::Circuit>& circuits = Library().circuits();
  const v1::Circuit& circuit = circuits[setup % circuits.size()];
  v1::ClassInfo info;
  info.set_class_id("c-fuzz");
  info.set_join_code("FUZZ23");
  info.set_circuit_id(circuit.id());
  info.set_circuit_name(circuit.name());
  info.set_title("Fuzzed class");
  info.set_created_unix_ms(absl::ToUnixMillis(kStart));
  engine::SessionOptions options;
  // Small bounds so the fuzzer reaches them: retention, holds that run out,
  // a full class, a participant out of reports.
  options.retention_events = 64;
  options.hold = absl::Seconds(1 + (setup >> 4));
  options.max_participants = 6;
  options.max_reports_per_participant = 40;
  return std::make_unique<engine::ClassSession>(info, circuit, &Library(),
                                                options);
}

bool SameMessage(const google::protobuf::Message& a,
                 const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// A message survives the wire: it serializes and parses back equal.
template <typename M>
void CheckRoundTrip(const M& message) {
  std::string bytes;
  FUZZ_CHECK(message.SerializeToString(&bytes), "%s does not serialize",
             message.GetTypeName().c_str());
  M parsed;
  FUZZ_CHECK(parsed.ParseFromString(bytes), "%s does not parse back",
             message.GetTypeName().c_str());
  // Bytes, not MessageDifferencer: reflection costs a third of the run, and
  // circuit.v1 has no maps, so equal messages serialize alike.
  FUZZ_CHECK(parsed.SerializeAsString() == bytes, "%s changed on the wire",
             message.GetTypeName().c_str());
}

class Harness {
 public:
  explicit Harness(uint8_t setup)
      : setup_(setup), session_(NewSession(setup)), now_(kStart) {}

  void Participant(int slot, absl::string_view bytes) {
    v1::JoinClassRequest request;
    // The stream refuses what does not parse; nothing reaches the session.
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return;
    }
    const std::string id = absl::StrCat("p", slot);
    switch (request.kind_case()) {
      case v1::JoinClassRequest::kJoin: {
        const absl::Status check =
            session_->CheckJoin(id, request.join().check_in());
        internal::Entry entry = At();
        *entry.mutable_join()->mutable_participant_id() = id;
        *entry.mutable_join()->mutable_check_in() = request.join().check_in();
        const absl::Status status =
            session_->Join(id, request.join().check_in(), now_);
        Journal(entry, status);
        FUZZ_CHECK(check.code() == status.code(),
                   "CheckJoin said %s, Join said %s", check.ToString().c_str(),
                   status.ToString().c_str());
        break;
      }
      case v1::JoinClassRequest::kResume:
        SetConnection(id, v1::CONNECTION_STATE_CONNECTED);
        break;
      case v1::JoinClassRequest::kLeave:
        SetConnection(id, v1::CONNECTION_STATE_LEFT);
        break;
      case v1::JoinClassRequest::kCompletion:
      case v1::JoinClassRequest::kEffort:
      case v1::JoinClassRequest::kSymptom: {
        internal::Entry entry = At();
        internal::ReportInput* report = entry.mutable_report();
        report->set_participant_id(id);
        if (request.has_completion()) {
          *report->mutable_completion() = request.completion();
        } else if (request.has_effort()) {
          *report->mutable_effort() = request.effort();
        } else {
          *report->mutable_symptom() = request.symptom();
        }
        Report(std::move(entry));
        break;
      }
      case v1::JoinClassRequest::KIND_NOT_SET:
        break;
    }
  }

  void Instructor(absl::string_view bytes) {
    v1::RunClassRequest request;
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return;
    }
    if (request.has_attach()) {
      Resume(request.attach().last_seq());
      ReadEverything();
      return;
    }
    if (!request.has_command()) return;
    internal::Entry entry = At();
    *entry.mutable_command() = request.command();
    const int64_t before = session_->last_seq();
    absl::StatusOr<int64_t> seq = session_->Apply(request.command(), now_);
    Journal(entry, seq.status());
    if (seq.ok()) {
      FUZZ_CHECK(*seq > before && *seq <= session_->last_seq(),
                 "a command's seq %lld is not one of its events",
                 static_cast<long long>(*seq));
    }
  }

  void Advance(uint8_t arg) {
    int64_t ms = (arg & 0x7f) * 250;
    if ((arg & 0x80) != 0) ms *= 40;
    now_ += absl::Milliseconds(ms);
    if (!session_->TickDue(now_)) return;
    internal::Entry entry = At();
    entry.mutable_tick();
    session_->Tick(now_);
    Journal(entry, absl::OkStatus());
    FUZZ_CHECK(!session_->TickDue(now_), "a tick is still due after a tick");
  }

  void Drop(int slot, bool reconnect) {
    SetConnection(absl::StrCat("p", slot), reconnect
                                               ? v1::CONNECTION_STATE_CONNECTED
                                               : v1::CONNECTION_STATE_DROPPED);
  }

  void Restart() {
    internal::Entry entry = At();
    entry.mutable_restart();
    session_->Restart(now_);
    Journal(entry, absl::OkStatus());
  }

  void EraseHealthData(int slot, bool everyone) {
    const std::string id = everyone ? "" : absl::StrCat("p", slot);
    const absl::Status status = session_->EraseHealthData(id);
    if (status.ok()) {
      journal_.push_back(Erase{id});
    } else {
      FUZZ_CHECK(!status.message().empty(), "a refusal without a message");
    }
    CheckEmitted(status.ok() ? std::optional<int64_t>() : seq_before_, false);
  }

  void Resume(int64_t after_seq) {
    std::optional<std::vector<const engine::Event*>> events =
        session_->EventsAfter(after_seq);
    if (!events.has_value()) return;
    int64_t expect = after_seq < 0 ? 0 : after_seq;
    for (const engine::Event* event : *events) {
      // Erased health events leave gaps, never disorder.
      FUZZ_CHECK(event->event.seq() > expect, "resumed events out of order");
      expect = event->event.seq();
      CheckRoundTrip(event->event);
    }
  }

  // Every read a stream or the after-class commands make.
  // `last`: the final read, which always happens.
  void ReadEverything(bool last = false) {
    // Reading everything copies the circuit's exercises a dozen times; an
    // input that asks for it at every step runs at a few per second.
    if (!last && reads_++ >= kMaxReads) return;
    const v1::InstructorSnapshot snapshot = session_->InstructorSnapshot(now_);
    CheckRoundTrip(snapshot);
    CheckRoundTrip(session_->KioskSnapshot(now_));
    CheckRoundTrip(session_->Summary(now_));
    CheckRoundTrip(session_->WallSummary());
    const v1::ClassProgress progress = session_->Progress();
    CheckRoundTrip(progress);
    std::optional<v1::RosterUpdate> roster = session_->TakeRosterUpdate();
    if (roster.has_value()) CheckRoundTrip(*roster);
    for (int slot = 0; slot < kSlots; ++slot) {
      absl::StatusOr<v1::ParticipantSnapshot> mine =
          session_->ParticipantSnapshot(absl::StrCat("p", slot), now_);
      if (mine.ok()) CheckRoundTrip(*mine);
    }
    CheckCounts(snapshot, progress);
  }

  // Replays the journal into a fresh session: every input must be accepted
  // again, and the class must come out the same.
  void CheckReplay() {
    std::unique_ptr<engine::ClassSession> replayed = NewSession(setup_);
    for (const Journaled& item : journal_) {
      if (const auto* erase = std::get_if<Erase>(&item)) {
        const absl::Status status =
            replayed->EraseHealthData(erase->participant_id);
        FUZZ_CHECK(status.ok(), "replayed erase refused: %s",
                   status.ToString().c_str());
        continue;
      }
      const internal::Entry& entry = std::get<internal::Entry>(item);
      const engine::EntryOutcome outcome = replayed->ApplyEntry(entry);
      FUZZ_CHECK(outcome.status.ok(), "replay refused %s: %s",
                 entry.ShortDebugString().c_str(),
                 outcome.status.ToString().c_str());
    }
    FUZZ_CHECK(replayed->last_seq() == session_->last_seq(),
               "replay ends at seq %lld, the class at %lld",
               static_cast<long long>(replayed->last_seq()),
               static_cast<long long>(session_->last_seq()));
    FUZZ_CHECK(SameMessage(replayed->InstructorSnapshot(now_),
                           session_->InstructorSnapshot(now_)),
               "the replayed class differs");
    FUZZ_CHECK(SameMessage(replayed->Summary(now_), session_->Summary(now_)),
               "the replayed summary differs");
  }

  // A step begins: a refusal in it must leave last_seq() here.
  void Step() { seq_before_ = session_->last_seq(); }

 private:
  internal::Entry At() const {
    internal::Entry entry;
    entry.set_at_unix_ms(absl::ToUnixMillis(now_));
    return entry;
  }

  void SetConnection(const std::string& id, v1::ConnectionState state) {
    internal::Entry entry = At();
    entry.mutable_connection()->set_participant_id(id);
    entry.mutable_connection()->set_state(state);
    Journal(entry, session_->SetConnection(id, state, now_));
  }

  void Report(internal::Entry entry) {
    std::optional<engine::ReportResult> duplicate;
    const absl::Status check =
        session_->CheckReport(entry.report(), &duplicate);
    absl::StatusOr<engine::ReportResult> result =
        session_->Record(entry.report(), now_);
    FUZZ_CHECK(check.code() == result.status().code(),
               "CheckReport said %s, Record said %s", check.ToString().c_str(),
               result.status().ToString().c_str());
    if (result.ok()) {
      FUZZ_CHECK(duplicate.has_value() == result->duplicate,
                 "CheckReport and Record disagree about a duplicate");
      if (result->duplicate) {
        FUZZ_CHECK(duplicate->seq == result->seq,
                   "a duplicate answers another seq");
      }
    }
    Journal(entry, result.status());
  }

  // Keeps an accepted input for the replay; a refused one must have
  // changed nothing.
  void Journal(const internal::Entry& entry, const absl::Status& status) {
    if (status.ok()) {
      journal_.push_back(entry);
    } else {
      FUZZ_CHECK(!status.message().empty(), "a refusal without a message");
    }
    CheckEmitted(status.ok() ? std::optional<int64_t>() : seq_before_, true);
  }

  // The events since the last step: numbered on from the last one, and none
  // at all after a refusal (`refused_at` is the seq before it).
  void CheckEmitted(std::optional<int64_t> refused_at, bool numbered) {
    std::vector<engine::Event> events = session_->DrainEvents();
    if (refused_at.has_value()) {
      FUZZ_CHECK(events.empty() && session_->last_seq() == *refused_at,
                 "a refused input emitted %zu events", events.size());
      return;
    }
    if (!numbered) return;
    for (const engine::Event& event : events) {
      FUZZ_CHECK(event.event.seq() == ++drained_seq_,
                 "event seq %lld where %lld was next",
                 static_cast<long long>(event.event.seq()),
                 static_cast<long long>(drained_seq_));
      CheckRoundTrip(event.event);
    }
    FUZZ_CHECK(drained_seq_ == session_->last_seq(), "events left undrained");
  }

  // The class-wide figures, kept incrementally, against the roster.
  void CheckCounts(const v1::InstructorSnapshot& snapshot,
                   const v1::ClassProgress& progress) {
    int32_t connected = 0, dropped = 0, done = 0, easy = 0, right = 0, hard = 0;
    int64_t reps = 0;
    for (const v1::RosterEntry& entry : snapshot.roster()) {
      reps += entry.progress().total_reps();
      if (entry.connection() == v1::CONNECTION_STATE_LEFT) continue;
      if (entry.connection() == v1::CONNECTION_STATE_CONNECTED) ++connected;
      if (entry.connection() == v1::CONNECTION_STATE_DROPPED) ++dropped;
      if (entry.done_current()) ++done;
      const v1::EffortFeel feel = entry.progress().last_feel();
      if (feel == v1::EFFORT_FEEL_TOO_EASY) ++easy;
      if (feel == v1::EFFORT_FEEL_JUST_RIGHT) ++right;
      if (feel == v1::EFFORT_FEEL_TOO_HARD) ++hard;
    }
    const v1::ClassAggregates& a = snapshot.aggregates();
    FUZZ_CHECK(a.connected_count() == connected && a.dropped_count() == dropped,
               "connected %d dropped %d, the roster says %d and %d",
               a.connected_count(), a.dropped_count(), connected, dropped);
    FUZZ_CHECK(a.done_current_count() == done,
               "done_current %d, the roster says %d", a.done_current_count(),
               done);
    FUZZ_CHECK(a.too_easy_count() == easy && a.just_right_count() == right &&
                   a.too_hard_count() == hard,
               "feel counts %d/%d/%d, the roster says %d/%d/%d",
               a.too_easy_count(), a.just_right_count(), a.too_hard_count(),
               easy, right, hard);
    FUZZ_CHECK(progress.participant_count() == connected + dropped &&
                   session_->participant_count() == connected + dropped,
               "participant_count %d, the roster says %d",
               progress.participant_count(), connected + dropped);
    FUZZ_CHECK(progress.total_reps() == reps,
               "total reps %d, the roster says %lld", progress.total_reps(),
               static_cast<long long>(reps));
  }

  const uint8_t setup_;
  std::unique_ptr<engine::ClassSession> session_;
  absl::Time now_;
  std::vector<Journaled> journal_;
  int64_t seq_before_ = 0;
  int64_t drained_seq_ = 0;
  static constexpr int kMaxReads = 16;
  int reads_ = 0;
};

}  // namespace
}  // namespace circuit::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using circuit::fuzz::FuzzInput;
  FuzzInput in(data, size);
  circuit::fuzz::Harness harness(in.Byte());
  int steps = 0;
  // A bound on the steps keeps one input's run short.
  while (!in.empty() && steps++ < 512) {
    const uint8_t op = in.Byte();
    const uint8_t arg = in.Byte();
    const int slot = arg % circuit::fuzz::kSlots;
    harness.Step();
    switch (op % 8) {
      case 0:
        harness.Participant(slot, in.Chunk());
        break;
      case 1:
        harness.Instructor(in.Chunk());
        break;
      case 2:
        harness.Advance(arg);
        break;
      case 3:
        harness.Drop(slot, (arg & 8) != 0);
        break;
      case 4:
        harness.Restart();
        break;
      case 5:
        harness.EraseHealthData(slot, (arg & 8) != 0);
        break;
      case 6:
        harness.Resume(arg * 3);
        break;
      default:
        harness.ReadEverything();
        break;
    }
  }
  harness.ReadEverything(/*last=*/true);
  harness.CheckReplay();
  return 0;
}
