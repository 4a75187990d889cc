#ifndef CIRCUIT_SERVER_JOURNAL_JOURNAL_H_
#define CIRCUIT_SERVER_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "circuit/internal/journal.pb.h"
#include "circuit/v1/service.pb.h"

namespace circuit {

// The answer to a journal write: OK once it is durable; otherwise why not
// (UNAVAILABLE for an I/O error, a full disk or a database locked by another
// process), and nothing of it was recorded. It runs on the journal's own
// thread (inline for the in-memory journal) and must not block.
using JournalDone = absl::AnyInvocable<void(absl::Status)>;

// A class as stored.
struct StoredClass {
  // The record it was created from. Once the class has ended, only
  // `record.info` is loaded, and it is the final info (phase ENDED,
  // ended_unix_ms): an ended class is listed, never replayed, so its circuit
  // and exercises are not read at startup.
  internal::ClassRecord record;
  // True once the health data retention period removed every participant's
  // efforts and symptoms.
  bool health_purged = false;
};

// A kept profile as loaded at startup, with its newest past classes.
struct StoredProfileHistory {
  internal::StoredProfile profile;
  // At most the `recent` asked for, oldest first.
  std::vector<internal::PastClass> recent;
  // Every past class stored for it.
  int32_t class_count = 0;
};

// One seat of a profile being erased: every entry of `participant_id` in
// `class_id` (an ended class) goes, and `scrubbed` replaces its summary.
struct ErasedSeat {
  std::string class_id;
  std::string participant_id;
  v1::ClassSummary scrubbed;
};

using HistoryDone =
    absl::AnyInvocable<void(absl::StatusOr<std::vector<internal::PastClass>>)>;

// The durable record of every class: what it was created from, the inputs
// its session accepted, in order (see circuit/internal/journal.proto), and,
// once it ended, its summary. An ack or a command result is sent, and an
// event fanned out, only after the input behind it is durable.
//
// Writes are asynchronous: each takes a callback that runs once the write is
// durable or has failed. Writes are applied, and their callbacks run, in the
// order they were made (across classes). Implementations are thread-safe.
//
// Implementations: InMemoryJournal (below, for tests), SqliteJournal (the
// embedded default), later a distributed log.
class Journal {
 public:
  virtual ~Journal() = default;

  // Records a new class. ALREADY_EXISTS when its id was recorded before.
  virtual void CreateClass(const internal::ClassRecord& record,
                           JournalDone done) = 0;

  // Appends one input to a class's log. NOT_FOUND for a class never
  // created. Appends that arrive while a commit is in flight go into the next
  // one (group commit); a failed commit fails every append in it.
  virtual void Append(const std::string& class_id, internal::Entry entry,
                      JournalDone done) = 0;

  // Marks a class ended: stores its final info (`summary.class_info`) and
  // summary, and in the same transaction each kept profile's update (its
  // new past class, its stage after the class). NOT_FOUND for a class never
  // created.
  virtual void EndClass(const v1::ClassSummary& summary,
                        std::vector<internal::ProfileUpdate> profiles,
                        JournalDone done) = 0;
  void EndClass(const v1::ClassSummary& summary, JournalDone done) {
    EndClass(summary, {}, std::move(done));
  }

  // The stored summary of an ended class; NOT_FOUND when there is none.
  virtual void ReadSummary(
      const std::string& class_id,
      absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) = 0;

  // Removes health data of an ended class: the effort and symptom inputs of
  // `participant_id` (of every participant when empty) are deleted from its
  // log, `scrubbed` replaces the stored summary, and the removed bytes are
  // overwritten on disk, not just unlinked. With an empty `participant_id`
  // the class is marked health_purged. NOT_FOUND for an unknown class,
  // FAILED_PRECONDITION for one not ended.
  virtual void EraseHealthData(const v1::ClassSummary& scrubbed,
                               const std::string& participant_id,
                               JournalDone done) = 0;

  // --- Kept profiles (health data: sealed at rest like summaries) --------

  // Stores a profile (new, or replacing the one with its id).
  virtual void PutProfile(const internal::StoredProfile& profile,
                          JournalDone done) = 0;

  // A profile's past classes, oldest first (empty for an unknown profile).
  virtual void ReadHistory(const std::string& profile_id, HistoryDone done) = 0;

  // Erases a profile, its past classes and every entry of its `seats`,
  // whose summaries become `scrubbed`, and overwrites the removed bytes on
  // disk as EraseHealthData does. FAILED_PRECONDITION when a seat's class
  // has not ended (nothing is erased).
  virtual void EraseProfile(const std::string& profile_id,
                            std::vector<ErasedSeat> seats,
                            JournalDone done) = 0;

  // From now on, `changed` gets each kept profile that another process
  // sharing this journal (a node of a cluster) stores, replaces or erases,
  // soon after it does: the profile with its `recent` newest past classes,
  // or nullopt once it is erased (on a thread of the journal's own; it must
  // not block long). A journal only one process writes never calls it.
  // Once.
  using ProfileChanged = absl::AnyInvocable<void(
      const std::string& profile_id,
      absl::StatusOr<std::optional<StoredProfileHistory>> stored)>;
  virtual void WatchProfiles(int recent, ProfileChanged changed) {
    (void)recent;
    (void)changed;
  }

  // --- Reading at startup (blocking; before serving) ----------------------

  // Every kept profile with its `recent` newest past classes.
  virtual absl::StatusOr<std::vector<StoredProfileHistory>> LoadProfiles(
      int recent) = 0;

  // Every stored class, oldest first.
  virtual absl::StatusOr<std::vector<StoredClass>> LoadClasses() = 0;

  // A class's log, in order; NOT_FOUND for an unknown class.
  virtual absl::StatusOr<std::vector<internal::Entry>> LoadEntries(
      const std::string& class_id) = 0;
};

// A Journal in memory: lost when the process exits. Callbacks run inline.
// Thread-safe.
class InMemoryJournal : public Journal {
 public:
  void CreateClass(const internal::ClassRecord& record,
                   JournalDone done) override;
  void Append(const std::string& class_id, internal::Entry entry,
              JournalDone done) override;
  using Journal::EndClass;
  void EndClass(const v1::ClassSummary& summary,
                std::vector<internal::ProfileUpdate> profiles,
                JournalDone done) override;
  void ReadSummary(
      const std::string& class_id,
      absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) override;
  void EraseHealthData(const v1::ClassSummary& scrubbed,
                       const std::string& participant_id,
                       JournalDone done) override;
  void PutProfile(const internal::StoredProfile& profile,
                  JournalDone done) override;
  void ReadHistory(const std::string& profile_id, HistoryDone done) override;
  void EraseProfile(const std::string& profile_id,
                    std::vector<ErasedSeat> seats, JournalDone done) override;
  absl::StatusOr<std::vector<StoredProfileHistory>> LoadProfiles(
      int recent) override;
  absl::StatusOr<std::vector<StoredClass>> LoadClasses() override;
  absl::StatusOr<std::vector<internal::Entry>> LoadEntries(
      const std::string& class_id) override;

  // While set, every write fails with this status (tests of failed commits).
  void FailWritesWith(absl::Status status);

 private:
  struct ClassLog {
    StoredClass stored;
    int64_t created_order = 0;
    std::vector<internal::Entry> entries;
    bool ended = false;
    v1::ClassSummary summary;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, ClassLog> classes_ ABSL_GUARDED_BY(mu_);
  struct ProfileLog {
    internal::StoredProfile profile;
    std::vector<internal::PastClass> past;
  };
  std::map<std::string, ProfileLog> profiles_ ABSL_GUARDED_BY(mu_);
  int64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_with_ ABSL_GUARDED_BY(mu_);
};

// True for an entry that carries health data (an effort or symptom report).
bool IsHealthEntry(const internal::Entry& entry);

// The participant an entry is about, or "".
const std::string& ParticipantOf(const internal::Entry& entry);

}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_JOURNAL_H_
