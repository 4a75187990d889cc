#include "server/journal/group_commit.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/stats.h"

namespace circuit {
namespace journal_internal {

GroupCommit::GroupCommit(Options options, BatchApplier* applier)
    : options_(std::move(options)), applier_(applier) {}

GroupCommit::~GroupCommit() { Stop(); }

absl::Status GroupCommit::Prepare(sqlite3* db) {
  db_ = db;
  const int rc =
      PrepareAll(db, {
                         {&begin_, "BEGIN IMMEDIATE"},
                         {&commit_, "COMMIT"},
                         {&rollback_, "ROLLBACK"},
                         {&vacuum_, "VACUUM"},
                         {&checkpoint_, "PRAGMA wal_checkpoint(TRUNCATE)"},
                     });
  if (rc != SQLITE_OK) return UnreadableFile(options_.path, db, rc);
  return absl::OkStatus();
}

absl::Status GroupCommit::RunAlone(absl::FunctionRef<absl::Status()> body) {
  absl::Status status = absl::OkStatus();
  if (const int begin_rc = Exec(begin_.get()); begin_rc != SQLITE_OK) {
    status = SqlFailure(db_, begin_rc);
  } else {
    status = body();
    const int end_rc = Exec(status.ok() ? commit_.get() : rollback_.get());
    if (status.ok() && end_rc != SQLITE_OK) status = SqlFailure(db_, end_rc);
  }
  if (status.ok()) status = ScrubFreedBytes();
  return status;
}

void GroupCommit::Start() {
  thread_ = std::thread([this] { Run(); });
}

void GroupCommit::Enqueue(JournalOp op) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      queue_.push_back(std::move(op));
      return;
    }
  }
  op.status = absl::UnavailableError("the journal is closed");
  op.Answer();
}

void GroupCommit::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (!thread_.joinable()) closed_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // The journal thread is gone; its connection is ours now.
  if (scrub_pending_ && db_ != nullptr) {
    if (absl::Status scrub = ScrubFreedBytes(); !scrub.ok()) {
      LogWarning("journal %s: erased health data may remain on disk: %s",
                 options_.path, scrub.message());
    }
    scrub_pending_ = false;
  }
  // Statements go before their connection, which the journal closes.
  for (Stmt* stmt : {&begin_, &commit_, &rollback_, &vacuum_, &checkpoint_}) {
    stmt->reset();
  }
}

GroupCommitStats GroupCommit::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool GroupCommit::HasWorkOrStopping() const {
  return !queue_.empty() || stopping_;
}

void GroupCommit::Run() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  for (;;) {
    std::vector<JournalOp> ops;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &GroupCommit::HasWorkOrStopping));
      if (queue_.empty()) {
        closed_ = true;  // stopping, and everything queued is answered
        return;
      }
      const size_t n = std::min(queue_.size(), max_batch);
      ops.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        ops.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(ops);
    for (JournalOp& op : ops) op.Answer();
  }
}

void GroupCommit::RunBatch(std::vector<JournalOp>& ops) {
  const bool any_write =
      std::any_of(ops.begin(), ops.end(),
                  [](const JournalOp& op) { return op.is_write(); });
  if (!any_write) {
    for (JournalOp& op : ops) {
      if (absl::Status failure = applier_->ApplyRead(op); !failure.ok()) {
        op.status = absl::UnavailableError(
            absl::StrCat("the journal could not read: ", failure.message()));
      }
    }
    return;
  }
  applier_->BatchBegins();
  const int64_t started_ns = MonotonicNanos();
  const absl::Status failure = Transact(ops);
  ProcessStats().journal_commit_ns.Observe(MonotonicNanos() - started_ns);
  ProcessStats().journal_batch_entries.Observe(
      static_cast<int64_t>(ops.size()));
  if (!failure.ok()) {
    applier_->BatchFailed();
    FailBatch(ops, failure);
    return;
  }
  FinishCommitted(ops);
}

absl::Status GroupCommit::Transact(std::vector<JournalOp>& ops) {
  if (const int rc = Exec(begin_.get()); rc != SQLITE_OK) {
    return SqlFailure(db_, rc);
  }
  for (JournalOp& op : ops) {
    absl::Status failure =
        op.is_write() ? applier_->ApplyWrite(op) : applier_->ApplyRead(op);
    if (!failure.ok()) return failure;
    // SQLite rolls back by itself on some errors; what follows must not run
    // outside the transaction.
    if (sqlite3_get_autocommit(db_)) {
      return absl::InternalError("the transaction was rolled back");
    }
  }
  if (options_.fault_before_commit) {
    if (absl::Status fault = options_.fault_before_commit(); !fault.ok()) {
      return fault;
    }
  }
  if (const int rc = Exec(commit_.get()); rc != SQLITE_OK) {
    return SqlFailure(db_, rc);
  }
  return absl::OkStatus();
}

void GroupCommit::FailBatch(std::vector<JournalOp>& ops,
                            const absl::Status& failure) {
  if (!sqlite3_get_autocommit(db_)) {
    if (const int rc = Exec(rollback_.get()); rc != SQLITE_OK) {
      LogError("journal %s: rollback failed: %s", options_.path,
               sqlite3_errmsg(db_));
    }
  }
  LogError("journal %s: a commit of %d operations failed: %s", options_.path,
           ops.size(), failure.message());
  const absl::Status answer = absl::UnavailableError(
      absl::StrCat("the journal could not commit: ", failure.message()));
  for (JournalOp& op : ops) {
    if (op.is_write()) {
      op.status = answer;
    } else if (absl::Status read = applier_->ApplyRead(op); !read.ok()) {
      op.status = answer;  // reads see what is committed, or fail alike
    }
  }
  absl::MutexLock lock(&mu_);
  ++stats_.failed_commits;
  stats_.largest_batch =
      std::max(stats_.largest_batch, static_cast<int64_t>(ops.size()));
}

void GroupCommit::FinishCommitted(std::vector<JournalOp>& ops) {
  using Kind = JournalOp::Kind;
  int64_t appended = 0;
  bool erased = false;
  for (const JournalOp& op : ops) {
    if (!op.status.ok()) continue;
    if (op.kind == Kind::kAppend) ++appended;
    if (op.erases()) erased = true;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.commits;
    stats_.entries += appended;
    stats_.largest_batch =
        std::max(stats_.largest_batch, static_cast<int64_t>(ops.size()));
  }
  if (!erased) return;
  if (absl::Status scrub = ScrubFreedBytes(); scrub.ok()) {
    scrub_pending_ = false;
  } else {
    scrub_pending_ = true;
    LogWarning("journal %s: erased health data may remain on disk: %s",
               options_.path, scrub.message());
    for (JournalOp& op : ops) {
      if (op.erases() && op.status.ok()) {
        op.status = absl::UnavailableError(absl::StrCat(
            "the health data was deleted but its bytes may remain on disk ",
            "until a retry succeeds: ", scrub.message()));
      }
    }
  }
}

absl::Status GroupCommit::ScrubFreedBytes() {
  // secure_delete zeroes what a delete frees, but a b-tree rebalance leaves
  // stale copies of cells it moved in the unused middle of a page (SQLite's
  // rebuildPage does not clear it), so copies of health data moved earlier
  // can survive the delete: VACUUM rewrites every page from the live rows.
  // It writes to the WAL; the checkpoint then copies the pages over the
  // file, shrinks it, and truncates the WAL, which held the old pages too.
  if (const int rc = Exec(vacuum_.get()); rc != SQLITE_OK) {
    return SqlFailure(db_, rc);
  }
  sqlite3_stmt* stmt = checkpoint_.get();
  ScopedReset reset(stmt);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return SqlFailure(db_, rc);
  if (sqlite3_column_int(stmt, 0) != 0) {
    return absl::UnavailableError(
        "another process is reading the database; retry");
  }
  return absl::OkStatus();
}

}  // namespace journal_internal
}  // namespace circuit
