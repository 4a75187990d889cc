#ifndef CIRCUIT_SERVER_LIVE_CLASS_REGISTRY_H_
#define CIRCUIT_SERVER_LIVE_CLASS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/common/secrets.h"
#include "server/engine/class_session.h"
#include "server/journal/journal.h"
#include "server/library/circuit_library.h"
#include "server/live/class_actor.h"
#include "server/live/cluster_link.h"
#include "server/live/executor.h"
#include "server/live/seats.h"

namespace circuit {

struct RegistryOptions {
  engine::SessionOptions session;
  // Most classes held in memory at once (ended ones included until evicted;
  // evicted ones stay in the journal and in the history).
  int max_classes = 1000;
  // How often timers advance and the instructor's roster is sent.
  absl::Duration tick = absl::Milliseconds(100);
  // Every stream gets class-wide progress (when it changed) once every this
  // many ticks (2 Hz at 100 ms); each tick serves a slice of the class.
  int progress_every_ticks = 5;
  // At most this many participants of one class get progress on one tick:
  // a class bigger than 5 x this gets it less often than every 5 ticks
  // (10,000 participants: every 2.5 s), so a class's progress costs at most
  // 4,000 messages a second however big it is. Instructors and kiosks keep
  // getting it every progress_every_ticks.
  int progress_per_tick = 400;
  // Effort and symptom details of classes that ended longer ago than this
  // are removed from the journal (reps and attendance stay).
  absl::Duration health_retention = absl::Hours(24 * 30);
  // How often the ticker looks for health data past retention.
  absl::Duration purge_every = absl::Hours(1);
  // In a cluster: where the classes other nodes own are, the way to their
  // owners and their logs. Null: a single node.
  ClusterLink* cluster = nullptr;
  // How long a node waits to catch up with a class it starts following.
  absl::Duration follow_timeout = absl::Seconds(10);
  // A followed class whose log brought nothing for this long while its
  // clients wait is read again from where it stopped.
  absl::Duration follow_stall = absl::Seconds(2);
};

// Every class this server holds, by id and join code; every seat (in its
// SeatTable); the history of ended classes; and the ticker that drives
// timers and coalesced updates. Thread-safe.
class ClassRegistry {
 public:
  // Everything passed in must outlive the registry; `executor` runs the
  // class actors' strands.
  ClassRegistry(const CircuitLibrary* library, Journal* journal,
                const Clock* clock, Executor* executor,
                RegistryOptions options);
  ~ClassRegistry();

  // Rebuilds every stored class from the journal before serving: classes
  // not ended are replayed through the engine and restarted (paused, seats
  // dropped); ended ones are listed from their stored info. Blocks.
  absl::Status Recover() ABSL_LOCKS_EXCLUDED(mu_);

  // In a cluster: takes over a class another node ran (its owner is gone):
  // claims it in the journal (LoadEntries), replays its log and restarts it
  // as Recover does (paused, seats dropped, journaled), then serves it.
  // Nothing when the class is here already or another node claimed it
  // first. Blocks.
  void Adopt(const internal::ClassRecord& record) ABSL_LOCKS_EXCLUDED(mu_);

  // In a cluster: this node no longer owns the class (`why`): its streams
  // are told so and finished, and it leaves memory (its seats too); its
  // journal refuses it already.
  void Drop(const std::string& class_id, const std::string& why)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Creates a class in the lobby with a fresh id and join code, and answers
  // once it is journaled. At max_classes, the class that ended first leaves
  // memory to make room. NOT_FOUND for an unknown circuit; INVALID_ARGUMENT
  // for a title over 80 characters; RESOURCE_EXHAUSTED when max_classes are
  // held and none ended; UNAVAILABLE when it could not be journaled.
  void Create(const std::string& circuit_id, const std::string& title,
              const std::string& studio_id, const std::string& owner_id,
              absl::AnyInvocable<void(absl::StatusOr<v1::ClassInfo>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // nullptr when not in memory. Join codes match regardless of case.
  std::shared_ptr<ClassActor> Find(const std::string& class_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<ClassActor> FindByJoinCode(const std::string& code) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The info of an ended class kept only in the journal.
  std::optional<v1::ClassInfo> FindStored(const std::string& class_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // A class's info, live or stored; nullopt for an unknown class.
  std::optional<v1::ClassInfo> Info(const std::string& class_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // What a door answers when this node does not run the class with this id
  // (or, with an empty id, this join code): NOT_FOUND, naming it; in a
  // cluster, UNAVAILABLE when another node runs it or it is moving between
  // nodes, so the client retries rather than giving up. When another node
  // owns it, this node starts following it (in the background): the retry
  // finds it here, served as a follower (ClassActor::CreateFollower).
  absl::Status NotHere(const std::string& class_id,
                       const std::string& join_code) const;

  // Stops following every class (before the cluster link goes away).
  void StopFollowing() ABSL_LOCKS_EXCLUDED(mu_);

  // The classes this node follows now (for tests and metrics).
  std::vector<std::string> FollowedClasses() const ABSL_LOCKS_EXCLUDED(mu_);

  // The seat a resume token holds: UNAUTHENTICATED when the token is
  // unknown, NOT_FOUND when its class is no longer live.
  struct Seat {
    std::shared_ptr<ClassActor> actor;
    std::string participant_id;
  };
  absl::StatusOr<Seat> FindSeat(const std::string& resume_token) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Classes, newest first: on a cluster, every node's (those this node
  // neither runs nor follows as its class directory has them).
  std::vector<v1::ClassInfo> List(bool include_ended) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The classes this node runs (owns) that have not ended: what its
  // metrics count, so a cluster's nodes do not count a class twice.
  std::vector<v1::ClassInfo> ListRunHere() const ABSL_LOCKS_EXCLUDED(mu_);

  // A class's summary, live or stored. NOT_FOUND for an unknown class.
  void Summary(const std::string& class_id,
               absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Kept profiles (loaded by Recover).
  ProfileBook* profiles() { return &profiles_; }
  const ProfileBook* profiles() const { return &profiles_; }

  // Erases a kept profile and everything linked to it: her seat in every
  // class she joined with it (every entry, her record in the summary, in
  // memory and in the journal), her history and the profile; `done` gets
  // how many classes her seat was erased from. FAILED_PRECONDITION while a
  // class she joined with it has not ended.
  void EraseProfile(const std::string& profile_id,
                    absl::AnyInvocable<void(absl::StatusOr<int>)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Erases a participant's health data from an ended class.
  void EraseHealthData(const std::string& class_id,
                       const std::string& participant_id,
                       absl::AnyInvocable<void(absl::Status)> done)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes health data of every class past the retention period; `done`
  // gets how many classes were purged. The ticker calls it every
  // purge_every; tests may too.
  void PurgeExpiredHealthData(absl::AnyInvocable<void(int)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs one tick on every class (the ticker calls this; tests may too).
  void TickAll() ABSL_LOCKS_EXCLUDED(mu_);

  // Starts and stops the background ticker. Stop is idempotent.
  void StartTicker() ABSL_LOCKS_EXCLUDED(ticker_mu_);
  void StopTicker() ABSL_LOCKS_EXCLUDED(ticker_mu_);

  // Tells every stream of every class that the server is going away.
  void GoAway(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);

  // No class journals anything more (shutdown, before the journal closes).
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::vector<std::shared_ptr<ClassActor>> Actors() const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The classes this node runs and those it follows.
  std::vector<std::shared_ptr<ClassActor>> AllActors() const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Starts following `class_id` on the follow thread, unless it is already.
  void RequestFollow(const std::string& class_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // On the follow thread: reads the class's log until it has applied what
  // its owner had when asked, then serves it. Blocks.
  void StartFollowing(const std::string& class_id) ABSL_LOCKS_EXCLUDED(mu_);
  void RunFollowThread();
  // On the follow thread: resubscribes the logs of followed classes that
  // are behind (Behind over `follow_stall`).
  void RefreshStalled();
  // Sets the followed-classes gauge.
  void CountFollowedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the class that ended first out of memory, with its join code and
  // seats, into the stored history; none when no class has ended.
  void EvictOldestEndedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddLocked(std::shared_ptr<ClassActor> actor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ActorDeps Deps();

  const CircuitLibrary* const library_;
  Journal* const journal_;
  const Clock* const clock_;
  Executor* const executor_;
  const RegistryOptions options_;
  SeatTable seats_;
  ProfileBook profiles_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ClassActor>> by_id_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> id_by_code_
      ABSL_GUARDED_BY(mu_);
  // Join codes handed out to classes still being journaled.
  absl::flat_hash_set<std::string> pending_codes_ ABSL_GUARDED_BY(mu_);
  int pending_creates_ ABSL_GUARDED_BY(mu_) = 0;
  // Ended classes not in memory, and whether their health data is purged.
  struct Stored {
    v1::ClassInfo info;
    bool health_purged = false;
  };
  std::map<std::string, Stored> stored_ ABSL_GUARDED_BY(mu_);
  // Ended classes in memory whose health data was purged.
  absl::flat_hash_set<std::string> purged_ ABSL_GUARDED_BY(mu_);

  // Classes other nodes own that this node follows, with their readers.
  struct Followed {
    std::shared_ptr<ClassActor> actor;
    // Shared with the follow thread while it refreshes it.
    std::shared_ptr<ClusterLink::Following> reading;
  };
  std::map<std::string, Followed> followed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> followed_by_code_
      ABSL_GUARDED_BY(mu_);
  // Classes to start following, and those being started (asked for by
  // NotHere, which is const: a cache of the cluster's classes).
  mutable std::vector<std::string> follow_queue_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_set<std::string> follow_pending_ ABSL_GUARDED_BY(mu_);
  bool follow_stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread follow_thread_;

  absl::Mutex ticker_mu_;
  bool ticker_stop_ ABSL_GUARDED_BY(ticker_mu_) = false;
  std::thread ticker_ ABSL_GUARDED_BY(ticker_mu_);
  int64_t ticks_ = 0;  // only the ticker thread (or a test) touches it
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_LIVE_CLASS_REGISTRY_H_
