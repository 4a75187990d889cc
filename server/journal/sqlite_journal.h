#ifndef CIRCUIT_SERVER_JOURNAL_SQLITE_JOURNAL_H_
#define CIRCUIT_SERVER_JOURNAL_SQLITE_JOURNAL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/common/data_cipher.h"
#include "server/journal/group_commit.h"
#include "server/journal/journal.h"
#include "server/journal/sealing.h"
#include "server/journal/sqlite_db.h"
#include "server/journal/sqlite_lock.h"
#include "server/journal/sqlite_schema.h"

namespace circuit {

struct SqliteJournalOptions {
  // The database file, e.g. <data_dir>/circuit.db; created when missing.
  // `<path>.lock` is created next to it and holds the pid of its user.
  std::string path;
  // How long a commit waits for another process's write lock on the file
  // (e.g. the sqlite3 CLI) before the batch fails with UNAVAILABLE.
  int busy_timeout_ms = 2000;
  // Most writes in one transaction.
  size_t max_batch = 10000;
  // Test seam for a full disk: the file may not grow beyond this many pages
  // (never below its size at open). 0: no cap.
  int64_t max_page_count = 0;
  // Test seam: called on the journal's thread before every commit of a
  // batch with writes; a non-OK status fails that commit as an I/O error
  // would (rolled back, every write in it answered UNAVAILABLE).
  std::function<absl::Status()> fault_before_commit;
  // The data keys that seal health data at rest (see SqliteJournal). Null:
  // nothing is sealed (tests of the journal's other behaviour only; circuitd
  // always gives keys). Sealed rows of an earlier run still open with them.
  std::shared_ptr<const KeyRing> keys;
};

// The embedded Journal: one SQLite database file in WAL mode with
// synchronous=FULL, so an acknowledged write survives a power loss.
//
// Thread-safe. Every write (and ReadSummary) is queued to the journal's own
// thread, which takes everything queued (up to max_batch), applies it in one
// transaction, commits, and then runs the callbacks in order, holding no
// lock (group commit: writes made while a commit is in flight share the
// next one). Statuses, besides the Journal contract's:
//   UNAVAILABLE  the commit failed: another process holds the file's write
//                lock past busy_timeout_ms, the disk is full, an I/O error,
//                or the journal is closed; nothing of the batch was
//                recorded, and the next batch is tried afresh.
//   DATA_LOSS    a stored record does not parse (LoadClasses, LoadEntries,
//                ReadSummary).
// A failed write fails only itself when it is the write's own fault
// (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION), never its batch.
//
// EraseHealthData answers OK only once the removed bytes are gone from the
// database file and its WAL: secure_delete zeroes what the delete frees,
// VACUUM rewrites every page (b-tree rebalancing leaves stale copies of
// moved cells that secure_delete never sees), and a truncating checkpoint
// empties the WAL. VACUUM takes time in proportion to the file's size and
// holds up every other write meanwhile; erases queued together share one.
// When the scrub cannot complete (e.g. another process is reading the file)
// the erase answers UNAVAILABLE although its rows are already deleted;
// retrying it, which is idempotent, scrubs again and answers OK once that
// completes (Close() tries once more too).
//
// Health data is sealed at rest (with options.keys): the body of every entry
// that carries it (effort and symptom reports, and joins, whose check-in
// holds the recovery track and weeks postpartum) and every stored summary
// are written as KeyRing::Seal records, bound to the row they are in (an
// entry to its class and row id, a summary to its class), so rows cannot be
// swapped. What says which rows exist (class ids, row ids, participant ids,
// the health flag, the class record) stays in the clear and queryable. A
// sealed record that does not open (its key is missing, or it was changed)
// is reported (an error in the log naming the class, row and key, and
// unreadable_records()), and left out of LoadEntries, so the rest of its
// class still replays; ReadSummary answers DATA_LOSS for it.
//
// Callbacks run on the journal's thread; they must not block, and must not
// destroy or Close() the journal.
//
// Its parts, one job a file: sqlite_lock (the data file's lock),
// sqlite_schema (the file's checks, settings and migrations at Open),
// sealing (health data at rest), group_commit (the journal's thread and its
// transactions), sqlite_db (the calls into SQLite they share); this class
// keeps the ops: what each write and read does to the tables.
class SqliteJournal final : public Journal,
                            private journal_internal::BatchApplier {
 public:
  // The schema version this build writes (see sqlite_schema.h).
  static constexpr int kSchemaVersion = journal_internal::kJournalSchemaVersion;

  // Group commit at work, since Open.
  using Stats = journal_internal::GroupCommitStats;

  // Opens (or creates) the journal at options.path and starts its thread.
  //   FAILED_PRECONDITION  another process (or SqliteJournal) has the file
  //                        open; the file is an SQLite database but not a
  //                        journal; or its schema version is newer than
  //                        kSchemaVersion (the file is not written to)
  //   DATA_LOSS            the file is not a database or is corrupt
  //                        (quick_check); it is left exactly as it was
  //   UNAVAILABLE          the file or its lock cannot be opened or written
  static absl::StatusOr<std::unique_ptr<SqliteJournal>> Open(
      const SqliteJournalOptions& options);

  // Close().
  ~SqliteJournal() override;

  // Finishes everything queued (its callbacks run), stops the thread,
  // closes the database and releases the lock. Later writes answer
  // UNAVAILABLE inline, on the caller's thread. Idempotent. Not from a
  // journal callback.
  void Close();

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
  // Read the committed state through a connection of their own; safe
  // alongside writes (they see the writes whose callbacks have run).
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

  Stats stats() const;

  // What Reseal did.
  using ResealCounts = journal_internal::ResealCounts;
  // Seals, in one transaction, every health record under the current key:
  // sealed ones under an older key are opened and sealed again, plain ones
  // sealed; then scrubs the freed bytes (as EraseHealthData does), so the
  // older keys may be deleted once it answers. Records that do not open are
  // counted, logged, and left as they are. FAILED_PRECONDITION without keys;
  // UNAVAILABLE as for a write. Blocks; not from a journal callback.
  absl::StatusOr<ResealCounts> Reseal();

  // Sealed records LoadEntries could not open since Open.
  int64_t unreadable_records() const;

 private:
  using Db = journal_internal::Db;
  using Stmt = journal_internal::Stmt;
  using Op = journal_internal::JournalOp;

  SqliteJournal(const SqliteJournalOptions& options,
                journal_internal::DataFileLock lock);
  absl::Status Init();
  absl::Status OpenReader();
  absl::Status PrepareStatements();

  // BatchApplier: the ops, on the journal's thread.
  absl::Status ApplyRead(Op& op) override;
  absl::Status ApplyWrite(Op& op) override;
  void BatchBegins() override;
  void BatchFailed() override;
  // The profile ops' writes (ApplyWrite's share).
  absl::Status PutProfileRow(const std::string& profile_id,
                             const std::string& body);
  absl::Status InsertPastClass(const internal::PastClass& past,
                               const std::string& profile_id);
  absl::Status ApplyEraseProfile(Op& op);

  const SqliteJournalOptions options_;
  journal_internal::DataFileLock lock_;

  // Touched only by the journal thread once it runs (Open before that).
  Db db_;
  Stmt class_ended_, read_record_, insert_class_, insert_entry_, end_class_,
      read_summary_, delete_health_, scrub_summary_, put_profile_, insert_past_,
      read_history_, delete_profile_, delete_past_, delete_seat_;
  // The id the next past class row gets (bound into its seal, as entries).
  int64_t next_past_id_ = 1;
  int64_t batch_past_id_ = 1;
  int64_t next_created_seq_ = 1;
  // The id the next entry row gets: sealed bodies are bound to it, so it is
  // chosen before the insert.
  int64_t next_entry_id_ = 1;
  // Both of the above when the current batch began.
  int64_t batch_created_seq_ = 1;
  int64_t batch_entry_id_ = 1;

  // The read connection of LoadClasses and LoadEntries.
  absl::Mutex read_mu_;
  Db read_db_ ABSL_GUARDED_BY(read_mu_);
  Stmt load_classes_ ABSL_GUARDED_BY(read_mu_);
  Stmt load_class_ ABSL_GUARDED_BY(read_mu_);
  Stmt load_entries_ ABSL_GUARDED_BY(read_mu_);
  Stmt load_profiles_ ABSL_GUARDED_BY(read_mu_);
  Stmt load_recent_past_ ABSL_GUARDED_BY(read_mu_);

  std::atomic<int64_t> unreadable_{0};

  absl::Mutex close_mu_;  // serializes Close()
  journal_internal::GroupCommit commits_;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_SQLITE_JOURNAL_H_
