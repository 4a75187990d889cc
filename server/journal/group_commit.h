#ifndef CIRCUIT_SERVER_JOURNAL_GROUP_COMMIT_H_
#define CIRCUIT_SERVER_JOURNAL_GROUP_COMMIT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/journal/journal.h"
#include "server/journal/sqlite_db.h"

namespace circuit {
namespace journal_internal {

struct ResealCounts;

// One queued operation; its inputs are serialized on the caller's thread.
struct JournalOp {
  enum class Kind {
    kCreate,
    kAppend,
    kEnd,
    kReadSummary,
    kErase,
    kReseal,
    kPutProfile,
    kReadHistory,
    kEraseProfile,
  };
  Kind kind = Kind::kAppend;
  std::string class_id;
  // kAppend: the entry's participant; kErase: whose data (empty: all).
  std::string participant_id;
  bool health = false;  // kAppend: IsHealthEntry
  bool seal = false;    // kAppend: the body is sealed (ShouldSeal)
  // The serialized record (kCreate), entry (kAppend), summary (kEnd,
  // kErase) or StoredProfile (kPutProfile).
  std::string body;
  std::string info;  // kEnd: the serialized final ClassInfo
  // kPutProfile, kReadHistory, kEraseProfile: the profile.
  std::string profile_id;
  std::vector<internal::ProfileUpdate> profiles;  // kEnd
  std::vector<ErasedSeat> seats;                  // kEraseProfile
  JournalDone done;                               // every write
  absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> read_done;
  HistoryDone history_done;  // kReadHistory
  // The answer, set on the journal thread.
  absl::Status status;
  v1::ClassSummary summary;                  // kReadSummary, when OK
  std::vector<internal::PastClass> history;  // kReadHistory, when OK
  ResealCounts* counts = nullptr;            // kReseal: where its counts go
  bool is_write() const {
    return kind != Kind::kReadSummary && kind != Kind::kReadHistory;
  }
  // Whether a committed op leaves removed bytes to scrub from the file.
  bool erases() const {
    return kind == Kind::kErase || kind == Kind::kReseal ||
           kind == Kind::kEraseProfile;
  }
  // Runs the op's callback with its answer (`status`, or what it read).
  void Answer() {
    if (is_write()) {
      done(std::move(status));
    } else if (kind == Kind::kReadHistory) {
      if (status.ok()) {
        history_done(std::move(history));
      } else {
        history_done(std::move(status));
      }
    } else if (status.ok()) {
      read_done(std::move(summary));
    } else {
      read_done(std::move(status));
    }
  }
};
// Group commit at work, since Open.
struct GroupCommitStats {
  int64_t commits = 0;         // transactions committed
  int64_t failed_commits = 0;  // transactions rolled back by a failure
  int64_t entries = 0;         // entries appended in committed transactions
  int64_t largest_batch = 0;   // most operations taken into one transaction
};

// What each operation of a batch does inside its transaction: the journal's
// ops. Called on the journal's thread only.
class BatchApplier {
 public:
  virtual ~BatchApplier() = default;
  // Reads a summary, setting the read's answer; a non-OK result is an
  // SQLite failure.
  virtual absl::Status ApplyRead(JournalOp& op) = 0;
  // Applies one write in the open transaction, setting its own answer; a
  // non-OK result is an SQLite failure that fails the whole batch.
  virtual absl::Status ApplyWrite(JournalOp& op) = 0;
  // A batch with writes is about to begin; BatchFailed() then takes back
  // what the applier chose for it (the row ids of a failed batch are chosen
  // again by the next).
  virtual void BatchBegins() = 0;
  virtual void BatchFailed() = 0;
};

// The journal's thread and the writer connection's transactions. Every
// queued operation goes to the thread, which takes everything queued (up to
// max_batch), applies it in one transaction, commits, and then runs the
// callbacks in order, holding no lock (group commit: writes made while a
// commit is in flight share the next one). A commit that removed health data
// (an erase or a reseal) is followed by a scrub of the freed bytes, as
// SqliteJournal::EraseHealthData describes.
class GroupCommit {
 public:
  struct Options {
    std::string path;  // for the log
    size_t max_batch = 10000;
    // SqliteJournalOptions::fault_before_commit.
    std::function<absl::Status()> fault_before_commit;
  };

  // `applier` outlives this.
  GroupCommit(Options options, BatchApplier* applier);
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;
  ~GroupCommit();

  // Prepares the transaction statements on the writer connection `db`,
  // which outlives Stop(). Before Start().
  absl::Status Prepare(sqlite3* db);

  // Runs `body` in a transaction of its own on the calling thread, then
  // scrubs the freed bytes; for Open's work before Start().
  absl::Status RunAlone(absl::FunctionRef<absl::Status()> body);

  // Starts the thread.
  void Start();

  // Queues `op`; once stopped, answers it UNAVAILABLE inline.
  void Enqueue(JournalOp op);

  // Finishes everything queued (its callbacks run), stops the thread, tries
  // once more a scrub that failed, and finalizes the statements. Later
  // operations answer UNAVAILABLE inline. Idempotent; callers serialize it.
  void Stop();

  GroupCommitStats stats() const;

 private:
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();
  // Runs `ops` in one transaction, setting each one's answer.
  void RunBatch(std::vector<JournalOp>& ops);
  // Begins, applies `ops`, commits; returns why the batch failed, if it did.
  absl::Status Transact(std::vector<JournalOp>& ops);
  // Rolls back and answers every write of `ops` UNAVAILABLE.
  void FailBatch(std::vector<JournalOp>& ops, const absl::Status& failure);
  // Counts the commit, and scrubs what its erases freed.
  void FinishCommitted(std::vector<JournalOp>& ops);
  absl::Status ScrubFreedBytes();

  const Options options_;
  BatchApplier* const applier_;

  // Touched only by the journal thread once it runs (Prepare before that,
  // Stop after).
  sqlite3* db_ = nullptr;
  Stmt begin_, commit_, rollback_, vacuum_, checkpoint_;
  bool scrub_pending_ = false;  // an erase committed, its bytes not yet gone

  mutable absl::Mutex mu_;
  std::deque<JournalOp> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  GroupCommitStats stats_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
};

}  // namespace journal_internal
}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_GROUP_COMMIT_H_
