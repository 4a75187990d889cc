#ifndef CIRCUIT_SERVER_LIVE_CLASS_ACTOR_H_
#define CIRCUIT_SERVER_LIVE_CLASS_ACTOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"
#include "server/common/clock.h"
#include "server/engine/class_session.h"
#include "server/fanout/broadcaster.h"
#include "server/fanout/stream.h"
#include "server/journal/journal.h"
#include "server/library/circuit_library.h"
#include "server/live/cluster_link.h"
#include "server/live/executor.h"
#include "server/live/profiles.h"
#include "server/live/seats.h"

namespace circuit {

// What every class actor shares. Everything must outlive the actors.
struct ActorDeps {
  Journal* journal = nullptr;
  const Clock* clock = nullptr;
  // The threads strands run on (circuitd: the completion-queue shards).
  Executor* executor = nullptr;
  SeatTable* seats = nullptr;
  engine::SessionOptions session;
  // Kept profiles (joins with a profile, her plan, her history at the end),
  // and the server's library (the programmes and rule table a plan is made
  // with). Null: joins with a profile are refused (tests of other things).
  ProfileBook* profiles = nullptr;
  const CircuitLibrary* library = nullptr;
  // In a cluster: the way to the owners of classes this node follows.
  ClusterLink* cluster = nullptr;
};

// One live class as an actor: its ClassSession, its journal appends and its
// Broadcaster, touched only by tasks on the class's own Strand. Callers
// (reactors, the ticker) post work and get results through callbacks or on
// the stream they pass; nothing here blocks a caller or holds a lock across
// I/O.
//
// Every input is committed to the journal before the session applies it:
// the session's state is always durable state, so a snapshot, an ack, a
// command result or a fanned-out event never shows anything a crash can take
// back. A failed commit changes nothing and is answered UNAVAILABLE.
//
// Thread-safe: every public method may be called from any thread.
class ClassActor : public std::enable_shared_from_this<ClassActor> {
 public:
  // A new or stored class. INVALID_ARGUMENT when the record's circuit and
  // exercises do not form a valid library.
  static absl::StatusOr<std::shared_ptr<ClassActor>> Create(
      const internal::ClassRecord& record, const ActorDeps& deps);

  // In a cluster, a class another node owns, as this node follows it: its
  // state is the owner's log applied entry by entry (FollowEntry), never
  // journaled here; its streams are served here as the owner's are, with
  // the same privacy rules; every input (a join, resume, report, command,
  // leave or dropped stream) is forwarded to the owner (deps.cluster) and
  // answered once this node has applied what the owner had when it replied.
  static absl::StatusOr<std::shared_ptr<ClassActor>> CreateFollower(
      const internal::ClassRecord& record, const ActorDeps& deps);
  bool follower() const { return follower_; }

  const std::string& class_id() const { return class_id_; }
  const std::string& join_code() const { return join_code_; }

  // The class's info as of its last applied input. Any thread.
  v1::ClassInfo Info() const ABSL_LOCKS_EXCLUDED(info_mu_);

  // Rebuilds the class from its stored log (at startup, before anything is
  // posted): applies every entry through the session and re-registers its
  // seats. Not to be called concurrently with anything else.
  void Replay(const std::vector<internal::Entry>& entries);

  // After Replay of a class that was open when the server stopped: journals
  // and applies a restart (paused at its interval, every seat dropped), and
  // records the end of a class that ended but was not marked so. `done` runs
  // when that is durable or has failed.
  void Recover(absl::AnyInvocable<void(absl::Status)> done);

  // --- Following (a follower only) -------------------------------------------

  // Applies the next entry of the owner's log, and publishes its events.
  void FollowEntry(internal::Entry entry);
  // Runs `done` on the strand once `position` entries are applied (true), or
  // once the follower is closed first (false).
  void WhenApplied(int64_t position, absl::AnyInvocable<void(bool)> done);
  // How long something has waited for the owner's log with no entry
  // applied meanwhile (zero when nothing waits): a follower whose log
  // reader stalled (its server went away) is behind. Any thread.
  absl::Duration Behind() const;

  // --- Owning (the owner only) -----------------------------------------------

  // Applies an input a follower forwarded, through the same paths as this
  // node's own streams' inputs, and answers it (on the strand) with how far
  // the class's log was applied then.
  void Serve(internal::Forwarded request,
             absl::AnyInvocable<void(internal::ForwardedReply)> done);

  // --- Streams --------------------------------------------------------------

  // Subscribes an instructor or kiosk stream: a snapshot when `last_seq` is
  // 0, else the missed events (or a MISSED_EVENTS snapshot when they are no
  // longer kept), then progress (and the instructor's whole roster).
  void AttachInstructor(std::shared_ptr<Stream> stream, int64_t last_seq);
  void AttachKiosk(std::shared_ptr<Stream> stream, int64_t last_seq);

  using SeatDone = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;

  // Checks a participant in: a new seat, or, for a client join id this class
  // has seen, the same seat with a new resume token. Sends Joined, then a
  // snapshot, then subscribes the stream. `done` gets the participant id or
  // the refusal (the session's codes; INVALID_ARGUMENT for a bad client join
  // id; NOT_FOUND for a seat that was released; UNAVAILABLE when it could not
  // be recorded).
  void Join(std::shared_ptr<Stream> stream, const v1::JoinRequest& request,
            SeatDone done);

  // Resumes a seat on a new stream, as AttachInstructor does for `last_seq`
  // (a resume that needs a snapshot gets MISSED_EVENTS). A stream the
  // participant still had open is finished with ABORTED. NOT_FOUND when the
  // seat was released (left, or held past the hold).
  void Resume(std::shared_ptr<Stream> stream, const std::string& participant_id,
              int64_t last_seq, SeatDone done);

  // What became of a command: the seq of the event that recorded it, or the
  // refusal (the session's codes; UNAVAILABLE when it could not be
  // recorded, and then nothing changed).
  using CommandDone = absl::AnyInvocable<void(absl::StatusOr<int64_t>)>;
  // What became of a report: the seq of the event that recorded it (the
  // first time, for a retried id: `duplicate`), or the refusal, as above.
  using ReportDone =
      absl::AnyInvocable<void(absl::StatusOr<engine::ReportResult>)>;

  // Applies an instructor command. `done` runs on the actor's strand, once
  // the command is durable or refused, so whatever the adapter sends from it
  // is ordered with the class's events; it needs no stream (a test, or
  // another node forwarding the command, calls it alike).
  void Command(const v1::InstructorCommand& command, CommandDone done);

  // Records a report; `done` as for Command. Refusals and retries of what is
  // recorded are answered at once, from durable state.
  void Report(internal::ReportInput report, ReportDone done);

  // The participant leaves for good; their stream is finished with OK.
  void Leave(const std::string& participant_id);

  // A participant's stream ended without leaving: the seat is held.
  void StreamEnded(const std::string& participant_id, const Stream* stream);

  // Advances timers and sends the instructor's roster changes. When
  // class-wide progress changed, sends it: to instructors and kiosks on every
  // `pace.staff_every`-th tick, and to participants a slice a tick
  // (Broadcaster::SendProgressToParticipants), so each gets it once a round
  // of at least `pace.participant_every` ticks, longer in a class so big
  // that a tick would send more than `pace.participants_per_tick`. Skipped
  // while the previous tick has not run yet.
  struct ProgressPace {
    int staff_every = 5;
    int participant_every = 5;
    int participants_per_tick = 400;
  };
  void Tick(int64_t tick, const ProgressPace& pace);

  // Tells every stream the server is going away, then finishes them with
  // UNAVAILABLE once their queues are written.
  void GoAway(const std::string& reason);

  // --- Reading ---------------------------------------------------------------

  void Describe(absl::AnyInvocable<void(v1::GetClassResponse)> done);
  void Summary(absl::AnyInvocable<void(v1::ClassSummary)> done);

  // Erases one participant's health data (the class must have ended), in
  // memory and in the journal. The session's and journal's codes.
  void EraseHealthData(const std::string& participant_id,
                       absl::AnyInvocable<void(absl::Status)> done);
  // Erases everything about one participant of an ended class, in memory
  // only (her kept profile was erased: the journal already erased the
  // inputs). The session's codes.
  void EraseSeat(const std::string& participant_id,
                 absl::AnyInvocable<void(absl::Status)> done);
  // Erases every participant's health data of an ended class (retention).
  void PurgeHealthData(absl::AnyInvocable<void(absl::Status)> done);

  // Streams subscribed now (for tests); posted, so it sees earlier posts.
  void CountStreams(absl::AnyInvocable<void(size_t)> done);

  // Refuses new journal writes from now on (shutdown): inputs are answered
  // UNAVAILABLE.
  void Close();

 private:
  using Applied = absl::AnyInvocable<void(const engine::EntryOutcome&)>;

  static absl::StatusOr<std::shared_ptr<ClassActor>> Make(
      const internal::ClassRecord& record, const ActorDeps& deps,
      bool follower);
  ClassActor(const internal::ClassRecord& record, CircuitLibrary library,
             const ActorDeps& deps, bool follower);

  // A seat given to a join, before the adapter sends it anything.
  struct Seated {
    std::string participant_id;
    std::string token;
    std::string profile_id;
    std::string profile_credential;
  };
  using SeatedDone = absl::AnyInvocable<void(absl::StatusOr<Seated>)>;
  // On the strand, the owner only: checks a join in and journals it (a new
  // seat, or a retried join's seat with a new token, connected again).
  void SeatOnStrand(const v1::JoinRequest& request, SeatedDone done);
  // The owner only: marks the seat connected (journaled, unless it is).
  // NOT_FOUND when it was released.
  void Connect(const std::string& participant_id,
               absl::AnyInvocable<void(absl::Status)> done);
  void CommandOnStrand(const v1::InstructorCommand& command, CommandDone done);
  void ReportOnStrand(internal::ReportInput report, ReportDone done);
  void LeaveOnStrand(const std::string& participant_id,
                     absl::AnyInvocable<void(absl::Status)> done);
  // A follower: sends `request` to the owner; `done` gets the owner's
  // refusal, or its reply once this node applied as far (on the strand).
  void Forward(
      internal::Forwarded request,
      absl::AnyInvocable<void(absl::StatusOr<internal::ForwardedReply>)> done);
  // The rest of Forward, on the strand.
  void Answered(
      absl::StatusOr<internal::ForwardedReply> reply,
      absl::AnyInvocable<void(absl::StatusOr<internal::ForwardedReply>)> done);
  // A follower forwards one participant's reports one at a time, in the
  // order they came, so the owner records them in that order whichever
  // node owns the class when each arrives.
  void ForwardReport(internal::ReportInput report, ReportDone done);
  void SendNextReport(const std::string& participant_id);
  // Adds to waiting_.
  void Await(int64_t position, absl::AnyInvocable<void(bool)> done);
  std::string NextAttachId();
  void ApplyFollowed(const internal::Entry& entry);

  // On the strand: journals `entry` at the current time, then (on the
  // strand again) applies it, publishes its events and calls `applied`.
  void Commit(internal::Entry entry, Applied applied);
  void ApplyCommitted(const internal::Entry& entry, absl::Status committed,
                      Applied applied);
  // Publishes new events and notes the end of the class.
  void AfterApply();
  void RecordEndIfNeeded();
  void RegisterSeat(const internal::Entry& entry);
  void NoteParticipantId(const std::string& participant_id);

  // Subscribes `stream` for `role`: a snapshot when `last_seq` is 0 or its
  // missed events are no longer kept (MISSED_EVENTS when `resume` or when
  // they were, else INITIAL); else the missed events, replayed from a cursor
  // a slice at a time as the stream takes them (FeedReplay). A participant's
  // earlier stream is finished with ABORTED.
  void Attach(std::shared_ptr<Stream> stream, Role role,
              const std::string& participant_id, int64_t last_seq, bool resume);
  // Sends a replay's next slice: up to a quarter of the stream's queue of the
  // events after its cursor that its role may see, then waits until the stream
  // has written most of them (Stream::WhenQueueAtMost). Once the cursor reaches
  // the log's end, FinishReplay; if the log forgot events the cursor still
  // needed (a reader slower than the class's retention), a MISSED_EVENTS
  // snapshot instead.
  void FeedReplay(uint64_t replay_id);
  // The stream has every event: the instructor's whole roster, progress,
  // then it gets what its role gets (Broadcaster::GoLive).
  struct ReplayCursor;
  void FinishReplay(const ReplayCursor& replay);
  void SendSnapshot(Stream* stream, Role role,
                    const std::string& participant_id,
                    v1::SnapshotReason reason);
  void SendProgress(Stream* stream);
  void NewSeat(const v1::JoinRequest& request, std::string join_hash,
               SeatedDone done);
  // After NewSeat's checks: journals the join of `participant_id`, linked to
  // `profile` when set (with her plan), and answers Joined (with
  // `profile_credential` when the join made her profile).
  void CommitJoin(const std::string& participant_id, v1::CheckIn check_in,
                  std::string join_hash, const v1::Profile* profile,
                  std::string profile_credential, SeatedDone done);
  // A join retried with the client_join_id of `participant_id`'s seat (the
  // first answer was lost): a new resume token, and when the join asked to
  // keep a profile and made the seat's, a new profile credential (the lost
  // answer held the only copy).
  void RetakeSeat(const std::string& participant_id,
                  const v1::JoinRequest& request, SeatedDone done);
  // `resume`: a snapshot it needs is MISSED_EVENTS (else INITIAL).
  void ResumeOnStrand(std::shared_ptr<Stream> stream,
                      const std::string& participant_id, int64_t last_seq,
                      bool resume, SeatDone done);
  void Drop(const std::string& participant_id);
  // Journals a seat's connection `state`; `done` gets the outcome.
  void CommitConnection(const std::string& participant_id,
                        v1::ConnectionState state,
                        absl::AnyInvocable<void(absl::Status)> done);
  void TickOnStrand(int64_t tick, const ProgressPace& pace);
  void SendProgressOnTick(int64_t tick, const ProgressPace& pace,
                          int64_t now_ms);
  // Her plan for today from her past classes (engine::DerivePlan).
  std::vector<engine::SuggestionToMake> PlanFor(
      const v1::Profile& profile,
      const std::vector<internal::PastClass>& history) const;
  void SendJoined(Stream* stream, const Seated& seated);

  const std::string class_id_;
  const std::string join_code_;
  const CircuitLibrary library_;  // the class's own circuit and exercises
  Journal* const journal_;
  const Clock* const clock_;
  SeatTable* const seats_;
  ProfileBook* const profiles_;
  const CircuitLibrary* const server_library_;
  const int64_t hold_ms_;
  const std::shared_ptr<Strand> strand_;
  const bool follower_;
  ClusterLink* const cluster_;

  // Strand only.
  engine::ClassSession session_;
  Broadcaster broadcaster_;
  int64_t last_at_ms_ = 0;        // entries get non-decreasing times
  int64_t next_participant_ = 1;  // ids p1, p2, ...
  bool tick_in_flight_ = false;   // a tick entry is being committed
  // Slices of the class's participants that have not had the latest
  // progress yet, and whether instructors and kiosks have not.
  std::vector<bool> progress_due_;
  bool staff_progress_due_ = false;
  bool end_recorded_ = false;  // EndClass written (or being written)
  bool closed_ = false;        // no more journal writes
  absl::flat_hash_set<std::string> drops_to_retry_;
  // Log entries applied (replayed, committed or followed): the same count
  // on the owner and on every follower at the same point of the log.
  int64_t position_ = 0;
  // The owner: participants whose stream is on a follower, by the id of
  // that stream. A follower: the ids of its participants' streams here.
  absl::flat_hash_map<std::string, std::string> attach_ids_;
  uint64_t next_attach_ = 1;
  // A follower: each participant's reports not forwarded yet, and whether
  // one is on its way.
  struct ReportQueue {
    bool busy = false;
    std::deque<std::pair<internal::ReportInput, ReportDone>> waiting;
  };
  absl::flat_hash_map<std::string, ReportQueue> report_queues_;
  // A follower: what waits for the log to be applied this far.
  std::multimap<int64_t, absl::AnyInvocable<void(bool)>> waiting_;
  // Since when waiting_ has waited with no entry applied (MonotonicNanos;
  // 0: nothing waits). Read by Behind on any thread.
  std::atomic<int64_t> behind_since_ns_{0};
  // Streams still being fed the events they missed (a resume), by id: the
  // stream is in broadcaster_, not live yet, and gets the log from
  // `after_seq` on, so no live event can overtake or repeat a replayed one.
  struct ReplayCursor {
    std::shared_ptr<Stream> stream;
    Role role;
    std::string participant_id;
    int64_t after_seq;  // the last seq sent, or passed over as not visible
  };
  absl::flat_hash_map<uint64_t, ReplayCursor> replays_;
  uint64_t next_replay_id_ = 1;

  // Set by Tick, cleared by the strand: at most one tick waits at a time,
  // however slow the strand.
  std::atomic<bool> tick_queued_{false};

  mutable absl::Mutex info_mu_;
  v1::ClassInfo info_ ABSL_GUARDED_BY(info_mu_);
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_ACTOR_H_
