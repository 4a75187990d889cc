#include "server/journal/sqlite_journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/common/log.h"
#include "server/common/stats.h"

namespace circuit {
namespace {

// Marks the file as a Circuit journal (PRAGMA application_id): "Circ".
constexpr int64_t kApplicationId = 0x43697263;

// The statements that upgrade a schema of `version` to `version + 1`; null
// for a version this build cannot upgrade from. Version 0 is an empty file.
const char* MigrationFrom(int version) {
  switch (version) {
    case 0:
      // Entries keep their order by id (rowids grow among stored rows, which
      // is all the order needs: no AUTOINCREMENT). `health` and
      // `participant_id` let EraseHealthData delete without parsing bodies.
      return R"sql(
        CREATE TABLE classes (
          class_id TEXT PRIMARY KEY,
          created_seq INTEGER NOT NULL,
          record BLOB NOT NULL,
          ended INTEGER NOT NULL DEFAULT 0,
          summary BLOB,
          health_purged INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE entries (
          id INTEGER PRIMARY KEY,
          class_id TEXT NOT NULL REFERENCES classes (class_id),
          participant_id TEXT,
          health INTEGER NOT NULL,
          body BLOB NOT NULL
        );
        CREATE INDEX entries_by_class ON entries (class_id, id);
      )sql";
    case 1:
      // Version 2 seals health data in `entries.body` and
      // `classes.summary` (KeyRing records); the tables stay as they are. Open
      // seals a version 1 file's plain rows after this step.
      return "";
  }
  return nullptr;
}

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// The pid written in a lock file, or "unknown".
std::string ReadPid(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof(buf), 0);
  if (n <= 0) return "unknown";
  std::string pid(absl::StripAsciiWhitespace(
      absl::string_view(buf, static_cast<size_t>(n))));
  return pid.empty() ? "unknown" : pid;
}

// Takes the exclusive lock on `<path>.lock` and writes our pid into it.
// Returns its descriptor, which holds the lock until closed.
absl::StatusOr<int> LockDataFile(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", lock_path, ": ", ErrnoMessage(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = ReadPid(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("another circuitd is using ", path, " (pid ", holder,
                       "); stop it first or use another --data_dir"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot lock ", lock_path, ": ", ErrnoMessage(err)));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                   static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot write ", lock_path, ": ", ErrnoMessage(err)));
  }
  return fd;
}

// Resets a statement and clears its bindings when it goes out of scope.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* const stmt_;
};

// Binds the bytes of `s`, which must outlive the statement's next reset.
int BindText(sqlite3_stmt* stmt, int index, const std::string& s) {
  return sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC,
                             SQLITE_UTF8);
}
int BindBlob(sqlite3_stmt* stmt, int index, const std::string& s) {
  return sqlite3_bind_blob64(stmt, index, s.data(), s.size(), SQLITE_STATIC);
}

// Steps a statement to its end, ignoring rows; SQLITE_OK when it got there.
// The caller resets it.
int StepToEnd(sqlite3_stmt* stmt) {
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// Runs a statement without bindings to its end and resets it.
int Exec(sqlite3_stmt* stmt) {
  ScopedReset reset(stmt);
  return StepToEnd(stmt);
}

// Parses a blob column into `message`.
bool ParseColumn(sqlite3_stmt* stmt, int column,
                 google::protobuf::MessageLite* message) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  return message->ParseFromArray(data, size);
}

// Parses only the `info` field of a stored ClassRecord, skipping its circuit
// and exercises (most of its bytes) without parsing them.
bool ParseInfoOnly(sqlite3_stmt* stmt, int column, v1::ClassInfo* info) {
  namespace wire = google::protobuf::internal;
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(data),
                                            size);
  constexpr int kInfoField = internal::ClassRecord::kInfoFieldNumber;
  for (uint32_t tag; (tag = in.ReadTag()) != 0;) {
    if (wire::WireFormatLite::GetTagFieldNumber(tag) == kInfoField &&
        wire::WireFormatLite::GetTagWireType(tag) ==
            wire::WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length)) return false;
      const auto limit = in.PushLimit(static_cast<int>(length));
      if (!info->MergeFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
        return false;
      }
      in.PopLimit(limit);
    } else if (!wire::WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(size));
}

// Runs one statement, collecting the first column of each row as text.
// Returns the SQLite result code.
int QueryRows(sqlite3* db, const char* sql, std::vector<std::string>* rows) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    rows->push_back(ColumnText(raw, 0));
  }
  sqlite3_finalize(raw);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// Runs one statement that yields one integer.
int QueryInt(sqlite3* db, const char* sql, int64_t* value) {
  std::vector<std::string> rows;
  const int rc = QueryRows(db, sql, &rows);
  if (rc != SQLITE_OK) return rc;
  if (rows.empty() || !absl::SimpleAtoi(rows[0], value)) return SQLITE_ERROR;
  return SQLITE_OK;
}

// The answer at Open for a file SQLite could not read.
absl::Status UnreadableFile(const std::string& path, sqlite3* db, int rc) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return absl::DataLossError(absl::StrCat(
        path,
        " is not a readable journal; it was left as it is: SQLite says \"",
        sqlite3_errmsg(db), "\". Restore it from a backup, or move it away"));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot read ", path, ": ", sqlite3_errmsg(db)));
}

// Why an SQLite call failed, in words for the writers of a failed batch.
absl::Status SqlFailure(sqlite3* db, int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(
          "database is locked by another process; retry");
    case SQLITE_FULL:
      return absl::UnavailableError(
          "database or disk is full; retry once space is freed");
    case SQLITE_IOERR:
      return absl::UnavailableError(
          absl::StrCat("disk I/O error (", sqlite3_errmsg(db), "); retry"));
    default:
      return absl::InternalError(sqlite3_errmsg(db));
  }
}

// The participant an entry is about, or "".
const std::string& ParticipantOf(const internal::Entry& entry) {
  switch (entry.input_case()) {
    case internal::Entry::kJoin:
      return entry.join().participant_id();
    case internal::Entry::kConnection:
      return entry.connection().participant_id();
    case internal::Entry::kReport:
      return entry.report().participant_id();
    case internal::Entry::kToken:
      return entry.token().participant_id();
    default: {
      static const std::string* const kNone = new std::string;
      return *kNone;
    }
  }
}

// Whether an entry's body is sealed at rest: the reports that are health data,
// and joins (the check-in's recovery track and weeks postpartum are too).
bool ShouldSeal(const internal::Entry& entry) {
  return IsHealthEntry(entry) || entry.has_join();
}

// What a sealed row is bound to: its kind, class, and (for an entry) row id,
// length-prefixed so no two identities share a spelling.
std::string EntryIdentity(absl::string_view class_id, int64_t id) {
  return absl::StrCat("entry:", class_id.size(), ":", class_id, ":", id);
}
std::string SummaryIdentity(absl::string_view class_id) {
  return absl::StrCat("summary:", class_id.size(), ":", class_id);
}

absl::string_view ColumnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(data),
                           static_cast<size_t>(size));
}

// Reads, never writes, whether the file is a journal this build may write;
// returns its schema version (0 for a new or empty file).
absl::StatusOr<int64_t> CheckFile(sqlite3* db, const std::string& path) {
  int64_t version = 0, application_id = 0, objects = 0;
  int rc;
  if ((rc = QueryInt(db, "PRAGMA user_version", &version)) != SQLITE_OK ||
      (rc = QueryInt(db, "PRAGMA application_id", &application_id)) !=
          SQLITE_OK ||
      (rc = QueryInt(db, "SELECT count(*) FROM sqlite_schema", &objects)) !=
          SQLITE_OK) {
    return UnreadableFile(path, db, rc);
  }
  if (version == 0 && objects == 0) return 0;
  if (application_id != kApplicationId) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is an SQLite database but not a Circuit journal ",
        "(application_id ", application_id, "); use another --data_dir"));
  }
  if (version > SqliteJournal::kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " has journal schema version ", version,
        ", newer than this circuitd's (", SqliteJournal::kSchemaVersion,
        "); run the newer circuitd that wrote it, or use another --data_dir"));
  }
  std::vector<std::string> problems;
  if ((rc = QueryRows(db, "PRAGMA quick_check(5)", &problems)) != SQLITE_OK) {
    return UnreadableFile(path, db, rc);
  }
  if (problems.size() != 1 || problems[0] != "ok") {
    return absl::DataLossError(absl::StrCat(
        path, " is corrupt; it was left as it is: SQLite quick_check says \"",
        absl::StrJoin(problems, "; "),
        "\". Restore it from a backup, or move it away"));
  }
  return version;
}

// The connection's settings: WAL, durable commits, zeroed deletes.
absl::Status Configure(sqlite3* db, const std::string& path,
                       int64_t max_page_count) {
  std::vector<std::string> mode;
  int rc = QueryRows(db, "PRAGMA journal_mode=WAL", &mode);
  if (rc != SQLITE_OK) return UnreadableFile(path, db, rc);
  if (mode.empty() || mode[0] != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use write-ahead logging on ", path, " (mode ",
                     mode.empty() ? "unknown" : mode[0], ")"));
  }
  std::string settings =
      "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; "
      "PRAGMA foreign_keys=ON;";
  if (max_page_count > 0) {
    absl::StrAppend(&settings, "PRAGMA max_page_count=", max_page_count, ";");
  }
  if ((rc = sqlite3_exec(db, settings.c_str(), nullptr, nullptr, nullptr)) !=
      SQLITE_OK) {
    return UnreadableFile(path, db, rc);
  }
  return absl::OkStatus();
}

// Upgrades the schema from `version` to kSchemaVersion in one transaction.
absl::Status Migrate(sqlite3* db, const std::string& path, int64_t version) {
  if (version == SqliteJournal::kSchemaVersion) return absl::OkStatus();
  std::string migration = "BEGIN IMMEDIATE;";
  for (int64_t v = version; v < SqliteJournal::kSchemaVersion; ++v) {
    const char* step = MigrationFrom(static_cast<int>(v));
    if (step == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " has journal schema version ", version,
                       ", which this circuitd cannot upgrade"));
    }
    migration += step;
  }
  absl::StrAppend(&migration, "PRAGMA application_id=", kApplicationId,
                  "; PRAGMA user_version=", SqliteJournal::kSchemaVersion,
                  "; COMMIT;");
  if (sqlite3_exec(db, migration.c_str(), nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("cannot upgrade ", path, " from schema version ", version,
                     ": ", sqlite3_errmsg(db)));
    if (!sqlite3_get_autocommit(db)) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return status;
  }
  return absl::OkStatus();
}

absl::Status NeverJournaled(const std::string& class_id) {
  return absl::NotFoundError(
      absl::StrCat("class ", class_id, " was never journaled"));
}

}  // namespace

void SqliteJournal::DbCloser::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

void SqliteJournal::StmtFinalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(
    const SqliteJournalOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("the journal needs a file path");
  }
  absl::StatusOr<int> lock_fd = LockDataFile(options.path);
  if (!lock_fd.ok()) return lock_fd.status();
  std::unique_ptr<SqliteJournal> journal(new SqliteJournal(options, *lock_fd));
  if (absl::Status status = journal->Init(); !status.ok()) return status;
  return journal;
}

SqliteJournal::SqliteJournal(const SqliteJournalOptions& options, int lock_fd)
    : options_(options), lock_fd_(lock_fd) {}

SqliteJournal::~SqliteJournal() { Close(); }

absl::Status SqliteJournal::Init() {
  const std::string& path = options_.path;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open ", path, ": ",
        raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options_.busy_timeout_ms);

  absl::StatusOr<int64_t> version = CheckFile(raw, path);
  if (!version.ok()) return version.status();
  if (absl::Status status = Configure(raw, path, options_.max_page_count);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = Migrate(raw, path, *version); !status.ok()) {
    return status;
  }
  int64_t last_seq = 0;
  if (const int seq_rc = QueryInt(
          raw, "SELECT coalesce(max(created_seq), 0) FROM classes", &last_seq);
      seq_rc != SQLITE_OK) {
    return UnreadableFile(path, raw, seq_rc);
  }
  next_created_seq_ = last_seq + 1;
  int64_t last_entry = 0;
  if (const int id_rc = QueryInt(
          raw, "SELECT coalesce(max(id), 0) FROM entries", &last_entry);
      id_rc != SQLITE_OK) {
    return UnreadableFile(path, raw, id_rc);
  }
  next_entry_id_ = last_entry + 1;
  if (absl::Status status = PrepareStatements(); !status.ok()) return status;
  // A file from before sealing has its plain health rows sealed now, and
  // their plain bytes scrubbed from the file and its WAL.
  if (*version == 1 && options_.keys != nullptr) {
    ResealCounts counts;
    absl::Status sealed = absl::OkStatus();
    if (const int begin_rc = Exec(begin_.get()); begin_rc != SQLITE_OK) {
      sealed = SqlFailure(raw, begin_rc);
    } else {
      sealed = ResealRows(raw, /*rekey=*/false, &counts);
      const int end_rc = Exec(sealed.ok() ? commit_.get() : rollback_.get());
      if (sealed.ok() && end_rc != SQLITE_OK) sealed = SqlFailure(raw, end_rc);
    }
    if (sealed.ok()) sealed = ScrubFreedBytes();
    if (!sealed.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot seal the health data of ", path, ": ", sealed.message()));
    }
    LogInfo("journal %s: sealed %d plain health records", path, counts.sealed);
  }
  if (absl::Status status = OpenReader(); !status.ok()) return status;

  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status SqliteJournal::OpenReader() {
  absl::MutexLock lock(&read_mu_);
  const std::string& path = options_.path;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  read_db_.reset(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open ", path, " for reading: ",
        raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options_.busy_timeout_ms);
  if ((rc = sqlite3_exec(raw, "PRAGMA query_only=ON", nullptr, nullptr,
                         nullptr)) != SQLITE_OK) {
    return UnreadableFile(path, raw, rc);
  }
  struct {
    Stmt* stmt;
    const char* sql;
  } const reads[] = {
      {&load_classes_,
       "SELECT class_id, record, health_purged, ended FROM classes "
       "ORDER BY created_seq"},
      {&load_class_, "SELECT 1 FROM classes WHERE class_id = ?1"},
      {&load_entries_,
       "SELECT id, body FROM entries WHERE class_id = ?1 ORDER BY id"},
  };
  for (const auto& read : reads) {
    sqlite3_stmt* stmt = nullptr;
    if ((rc = sqlite3_prepare_v3(raw, read.sql, -1, SQLITE_PREPARE_PERSISTENT,
                                 &stmt, nullptr)) != SQLITE_OK) {
      return UnreadableFile(path, raw, rc);
    }
    read.stmt->reset(stmt);
  }
  return absl::OkStatus();
}

absl::Status SqliteJournal::PrepareStatements() {
  struct {
    Stmt* stmt;
    const char* sql;
  } const statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&class_ended_, "SELECT ended FROM classes WHERE class_id = ?1"},
      {&read_record_, "SELECT record FROM classes WHERE class_id = ?1"},
      {&insert_class_,
       "INSERT INTO classes (class_id, created_seq, record) "
       "VALUES (?1, ?2, ?3)"},
      {&insert_entry_,
       "INSERT INTO entries (class_id, participant_id, health, body, id) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&end_class_,
       "UPDATE classes SET record = ?2, ended = 1, summary = ?3 "
       "WHERE class_id = ?1"},
      {&read_summary_,
       "SELECT ended, summary FROM classes WHERE class_id = ?1"},
      {&delete_health_,
       "DELETE FROM entries WHERE class_id = ?1 AND health = 1 "
       "AND (?2 = '' OR participant_id = ?2)"},
      {&scrub_summary_,
       "UPDATE classes SET summary = ?2, health_purged = (health_purged OR ?3) "
       "WHERE class_id = ?1"},
      {&vacuum_, "VACUUM"},
      {&checkpoint_, "PRAGMA wal_checkpoint(TRUNCATE)"},
  };
  for (const auto& s : statements) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(
        db_.get(), s.sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return UnreadableFile(options_.path, db_.get(), rc);
    s.stmt->reset(stmt);
  }
  return absl::OkStatus();
}

void SqliteJournal::Close() {
  absl::MutexLock close_lock(&close_mu_);
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
  // Statements go before their connections; the writer closes last, so it
  // checkpoints the WAL and removes it.
  {
    absl::MutexLock lock(&read_mu_);
    load_classes_.reset();
    load_class_.reset();
    load_entries_.reset();
    read_db_.reset();
  }
  for (Stmt* stmt :
       {&begin_, &commit_, &rollback_, &class_ended_, &read_record_,
        &insert_class_, &insert_entry_, &end_class_, &read_summary_,
        &delete_health_, &scrub_summary_, &vacuum_, &checkpoint_}) {
    stmt->reset();
  }
  db_.reset();
  if (lock_fd_ >= 0) {
    close(lock_fd_);
    lock_fd_ = -1;
  }
}

SqliteJournal::Stats SqliteJournal::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

int64_t SqliteJournal::unreadable_records() const {
  absl::MutexLock lock(&mu_);
  return unreadable_;
}

absl::StatusOr<std::string> SqliteJournal::SealRow(
    const std::string& class_id, int64_t id, const std::string& plain) const {
  if (options_.keys == nullptr) return plain;
  return options_.keys->Seal(
      plain, id == 0 ? SummaryIdentity(class_id) : EntryIdentity(class_id, id));
}

absl::StatusOr<SqliteJournal::ResealCounts> SqliteJournal::Reseal() {
  if (options_.keys == nullptr) {
    return absl::FailedPreconditionError(
        "the journal was opened without data keys");
  }
  ResealCounts counts;
  absl::Status status;
  absl::Notification done;
  Op op;
  op.kind = Op::Kind::kReseal;
  op.counts = &counts;
  op.done = [&](absl::Status s) {
    status = std::move(s);
    done.Notify();
  };
  Enqueue(std::move(op));
  done.WaitForNotification();
  if (!status.ok()) return status;
  return counts;
}

absl::Status SqliteJournal::ResealRows(sqlite3* db, bool rekey,
                                       ResealCounts* counts) {
  const KeyRing& keys = *options_.keys;
  auto prepare = [db](const char* sql, Stmt* stmt) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    stmt->reset(raw);
    return rc;
  };
  // What to write for one stored record, or "" to leave it: a plain one is
  // sealed when `plain_needs_seal` says so, a sealed one (with rekey) when
  // it is under an older key.
  auto reseal =
      [&](absl::string_view stored, const std::string& identity,
          const std::string& where,
          const std::function<bool(absl::string_view)>& plain_needs_seal)
      -> absl::StatusOr<std::string> {
    std::string plain;
    if (KeyRing::IsSealed(stored)) {
      absl::StatusOr<uint32_t> id = KeyRing::KeyIdOf(stored);
      if (!rekey || (id.ok() && *id == keys.current_id())) return "";
      absl::StatusOr<std::string> opened = keys.Open(stored, identity);
      if (!opened.ok()) {
        ++counts->unreadable;
        LogError("journal %s: %s stays as it is: %s", options_.path, where,
                 opened.status().message());
        return "";
      }
      plain = std::move(*opened);
      ++counts->resealed;
    } else {
      if (!plain_needs_seal(stored)) return "";
      plain = std::string(stored);
      ++counts->sealed;
    }
    return keys.Seal(plain, identity);
  };

  Stmt read, write;
  int rc;
  if ((rc = prepare("SELECT id, class_id, body FROM entries WHERE id > ?1 "
                    "ORDER BY id LIMIT 512",
                    &read)) != SQLITE_OK ||
      (rc = prepare("UPDATE entries SET body = ?2 WHERE id = ?1", &write)) !=
          SQLITE_OK) {
    return SqlFailure(db, rc);
  }
  auto entry_needs_seal = [](absl::string_view body) {
    internal::Entry entry;
    return entry.ParseFromArray(body.data(), static_cast<int>(body.size())) &&
           ShouldSeal(entry);
  };
  // In chunks, reading before writing: a table is not updated under an open
  // read of it.
  for (int64_t after = 0;;) {
    std::vector<std::pair<int64_t, std::string>> updates;
    int rows = 0;
    {
      ScopedReset reset(read.get());
      sqlite3_bind_int64(read.get(), 1, after);
      while ((rc = sqlite3_step(read.get())) == SQLITE_ROW) {
        ++rows;
        after = sqlite3_column_int64(read.get(), 0);
        const std::string class_id = ColumnText(read.get(), 1);
        absl::StatusOr<std::string> next =
            reseal(ColumnBytes(read.get(), 2), EntryIdentity(class_id, after),
                   absl::StrCat("entry ", after, " of class ", class_id),
                   entry_needs_seal);
        if (!next.ok()) return next.status();
        if (!next->empty()) updates.emplace_back(after, std::move(*next));
      }
      if (rc != SQLITE_DONE) return SqlFailure(db, rc);
    }
    for (const auto& [id, body] : updates) {
      ScopedReset reset(write.get());
      sqlite3_bind_int64(write.get(), 1, id);
      BindBlob(write.get(), 2, body);
      if ((rc = StepToEnd(write.get())) != SQLITE_OK) return SqlFailure(db, rc);
    }
    if (rows == 0) break;
  }

  if ((rc = prepare("SELECT class_id, summary FROM classes "
                    "WHERE summary IS NOT NULL",
                    &read)) != SQLITE_OK ||
      (rc = prepare("UPDATE classes SET summary = ?2 WHERE class_id = ?1",
                    &write)) != SQLITE_OK) {
    return SqlFailure(db, rc);
  }
  std::vector<std::pair<std::string, std::string>> updates;
  while ((rc = sqlite3_step(read.get())) == SQLITE_ROW) {
    const std::string class_id = ColumnText(read.get(), 0);
    absl::StatusOr<std::string> next =
        reseal(ColumnBytes(read.get(), 1), SummaryIdentity(class_id),
               absl::StrCat("the summary of class ", class_id),
               [](absl::string_view) { return true; });
    if (!next.ok()) return next.status();
    if (!next->empty()) updates.emplace_back(class_id, std::move(*next));
  }
  if (rc != SQLITE_DONE) return SqlFailure(db, rc);
  read.reset();
  for (const auto& [class_id, summary] : updates) {
    ScopedReset reset(write.get());
    BindText(write.get(), 1, class_id);
    BindBlob(write.get(), 2, summary);
    if ((rc = StepToEnd(write.get())) != SQLITE_OK) return SqlFailure(db, rc);
  }
  return absl::OkStatus();
}

// --- Writes: queued to the journal thread ----------------------------------

void SqliteJournal::Enqueue(Op op) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      queue_.push_back(std::move(op));
      return;
    }
  }
  const absl::Status closed = absl::UnavailableError("the journal is closed");
  if (op.is_write()) {
    op.done(closed);
  } else {
    op.read_done(closed);
  }
}

void SqliteJournal::CreateClass(const internal::ClassRecord& record,
                                JournalDone done) {
  Op op;
  op.kind = Op::Kind::kCreate;
  op.class_id = record.info().class_id();
  op.body = record.SerializeAsString();
  op.done = std::move(done);
  Enqueue(std::move(op));
}

void SqliteJournal::Append(const std::string& class_id, internal::Entry entry,
                           JournalDone done) {
  Op op;
  op.kind = Op::Kind::kAppend;
  op.class_id = class_id;
  op.participant_id = ParticipantOf(entry);
  op.health = IsHealthEntry(entry);
  op.seal = ShouldSeal(entry);
  op.body = entry.SerializeAsString();
  op.done = std::move(done);
  Enqueue(std::move(op));
}

void SqliteJournal::EndClass(const v1::ClassSummary& summary,
                             JournalDone done) {
  Op op;
  op.kind = Op::Kind::kEnd;
  op.class_id = summary.class_info().class_id();
  op.info = summary.class_info().SerializeAsString();
  op.body = summary.SerializeAsString();
  op.done = std::move(done);
  Enqueue(std::move(op));
}

void SqliteJournal::ReadSummary(
    const std::string& class_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) {
  Op op;
  op.kind = Op::Kind::kReadSummary;
  op.class_id = class_id;
  op.read_done = std::move(done);
  Enqueue(std::move(op));
}

void SqliteJournal::EraseHealthData(const v1::ClassSummary& scrubbed,
                                    const std::string& participant_id,
                                    JournalDone done) {
  Op op;
  op.kind = Op::Kind::kErase;
  op.class_id = scrubbed.class_info().class_id();
  op.participant_id = participant_id;
  op.body = scrubbed.SerializeAsString();
  op.done = std::move(done);
  Enqueue(std::move(op));
}

// --- The journal thread -----------------------------------------------------

bool SqliteJournal::HasWorkOrStopping() const {
  return !queue_.empty() || stopping_;
}

void SqliteJournal::Run() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  for (;;) {
    std::vector<Op> ops;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SqliteJournal::HasWorkOrStopping));
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
    for (Op& op : ops) {
      if (op.is_write()) {
        op.done(std::move(op.status));
      } else if (op.status.ok()) {
        op.read_done(std::move(op.summary));
      } else {
        op.read_done(std::move(op.status));
      }
    }
  }
}

void SqliteJournal::RunBatch(std::vector<Op>& ops) {
  const bool any_write = std::any_of(
      ops.begin(), ops.end(), [](const Op& op) { return op.is_write(); });
  if (!any_write) {
    for (Op& op : ops) {
      if (absl::Status failure = ApplyRead(op); !failure.ok()) {
        op.status = absl::UnavailableError(
            absl::StrCat("the journal could not read: ", failure.message()));
      }
    }
    return;
  }
  const int64_t created_seq_before = next_created_seq_;
  const int64_t entry_id_before = next_entry_id_;
  const int64_t started_ns = MonotonicNanos();
  const absl::Status failure = Transact(ops);
  ProcessStats().journal_commit_ns.Observe(MonotonicNanos() - started_ns);
  ProcessStats().journal_batch_entries.Observe(
      static_cast<int64_t>(ops.size()));
  if (!failure.ok()) {
    next_created_seq_ = created_seq_before;
    next_entry_id_ = entry_id_before;
    FailBatch(ops, failure);
    return;
  }
  FinishCommitted(ops);
}

absl::Status SqliteJournal::Transact(std::vector<Op>& ops) {
  sqlite3* db = db_.get();
  if (const int rc = Exec(begin_.get()); rc != SQLITE_OK) {
    return SqlFailure(db, rc);
  }
  for (Op& op : ops) {
    absl::Status failure = op.is_write() ? ApplyWrite(op) : ApplyRead(op);
    if (!failure.ok()) return failure;
    // SQLite rolls back by itself on some errors; what follows must not run
    // outside the transaction.
    if (sqlite3_get_autocommit(db)) {
      return absl::InternalError("the transaction was rolled back");
    }
  }
  if (options_.fault_before_commit) {
    if (absl::Status fault = options_.fault_before_commit(); !fault.ok()) {
      return fault;
    }
  }
  if (const int rc = Exec(commit_.get()); rc != SQLITE_OK) {
    return SqlFailure(db, rc);
  }
  return absl::OkStatus();
}

void SqliteJournal::FailBatch(std::vector<Op>& ops,
                              const absl::Status& failure) {
  sqlite3* db = db_.get();
  if (!sqlite3_get_autocommit(db)) {
    if (const int rc = Exec(rollback_.get()); rc != SQLITE_OK) {
      LogError("journal %s: rollback failed: %s", options_.path,
               sqlite3_errmsg(db));
    }
  }
  LogError("journal %s: a commit of %d operations failed: %s", options_.path,
           ops.size(), failure.message());
  const absl::Status answer = absl::UnavailableError(
      absl::StrCat("the journal could not commit: ", failure.message()));
  for (Op& op : ops) {
    if (op.is_write()) {
      op.status = answer;
    } else if (absl::Status read = ApplyRead(op); !read.ok()) {
      op.status = answer;  // reads see what is committed, or fail alike
    }
  }
  absl::MutexLock lock(&mu_);
  ++stats_.failed_commits;
  stats_.largest_batch =
      std::max(stats_.largest_batch, static_cast<int64_t>(ops.size()));
}

void SqliteJournal::FinishCommitted(std::vector<Op>& ops) {
  int64_t appended = 0;
  bool erased = false;
  for (const Op& op : ops) {
    if (!op.status.ok()) continue;
    if (op.kind == Op::Kind::kAppend) ++appended;
    if (op.kind == Op::Kind::kErase || op.kind == Op::Kind::kReseal) {
      erased = true;
    }
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
    for (Op& op : ops) {
      if ((op.kind == Op::Kind::kErase || op.kind == Op::Kind::kReseal) &&
          op.status.ok()) {
        op.status = absl::UnavailableError(absl::StrCat(
            "the health data was deleted but its bytes may remain on disk ",
            "until a retry succeeds: ", scrub.message()));
      }
    }
  }
}

absl::Status SqliteJournal::ScrubFreedBytes() {
  // secure_delete zeroes what a delete frees, but a b-tree rebalance leaves
  // stale copies of cells it moved in the unused middle of a page (SQLite's
  // rebuildPage does not clear it), so copies of health data moved earlier
  // can survive the delete: VACUUM rewrites every page from the live rows.
  // It writes to the WAL; the checkpoint then copies the pages over the
  // file, shrinks it, and truncates the WAL, which held the old pages too.
  if (const int rc = Exec(vacuum_.get()); rc != SQLITE_OK) {
    return SqlFailure(db_.get(), rc);
  }
  sqlite3_stmt* stmt = checkpoint_.get();
  ScopedReset reset(stmt);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return SqlFailure(db_.get(), rc);
  if (sqlite3_column_int(stmt, 0) != 0) {
    return absl::UnavailableError(
        "another process is reading the database; retry");
  }
  return absl::OkStatus();
}

absl::Status SqliteJournal::ApplyRead(Op& op) {
  sqlite3_stmt* stmt = read_summary_.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, op.class_id);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE ||
      (rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 0)) {
    op.status = absl::NotFoundError(
        absl::StrCat("no stored summary for class ", op.class_id));
    return absl::OkStatus();
  }
  if (rc != SQLITE_ROW) return SqlFailure(db_.get(), rc);
  op.summary.Clear();
  absl::string_view stored = ColumnBytes(stmt, 1);
  std::string opened;
  if (KeyRing::IsSealed(stored)) {
    absl::StatusOr<std::string> plain =
        options_.keys != nullptr
            ? options_.keys->Open(stored, SummaryIdentity(op.class_id))
            : absl::NotFoundError("sealed, and no data keys were given");
    if (!plain.ok()) {
      op.status = absl::DataLossError(
          absl::StrCat("the stored summary of class ", op.class_id,
                       " cannot be read: ", plain.status().message()));
      return absl::OkStatus();
    }
    opened = std::move(*plain);
    stored = opened;
  }
  op.status =
      op.summary.ParseFromArray(stored.data(), static_cast<int>(stored.size()))
          ? absl::OkStatus()
          : absl::DataLossError(absl::StrCat("the stored summary of class ",
                                             op.class_id, " does not parse"));
  return absl::OkStatus();
}

absl::Status SqliteJournal::ApplyWrite(Op& op) {
  sqlite3* db = db_.get();
  op.status = absl::OkStatus();
  if (op.kind == Op::Kind::kReseal) {
    return ResealRows(db, /*rekey=*/true, op.counts);
  }

  // Whether the class exists and has ended.
  bool found = false, ended = false;
  {
    sqlite3_stmt* stmt = class_ended_.get();
    ScopedReset reset(stmt);
    BindText(stmt, 1, op.class_id);
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      found = true;
      ended = sqlite3_column_int(stmt, 0) != 0;
    } else if (rc != SQLITE_DONE) {
      return SqlFailure(db, rc);
    }
  }

  sqlite3_stmt* stmt = nullptr;
  switch (op.kind) {
    case Op::Kind::kCreate:
      if (found) {
        op.status = absl::AlreadyExistsError(
            absl::StrCat("class ", op.class_id, " is already journaled"));
        return absl::OkStatus();
      }
      stmt = insert_class_.get();
      BindText(stmt, 1, op.class_id);
      sqlite3_bind_int64(stmt, 2, next_created_seq_++);
      BindBlob(stmt, 3, op.body);
      break;

    case Op::Kind::kAppend:
      if (!found) {
        op.status = NeverJournaled(op.class_id);
        return absl::OkStatus();
      }
      {
        const int64_t id = next_entry_id_++;
        if (op.seal) {
          absl::StatusOr<std::string> sealed =
              SealRow(op.class_id, id, op.body);
          if (!sealed.ok()) return sealed.status();
          op.body = std::move(*sealed);
        }
        stmt = insert_entry_.get();
        BindText(stmt, 1, op.class_id);
        if (!op.participant_id.empty()) BindText(stmt, 2, op.participant_id);
        sqlite3_bind_int(stmt, 3, op.health ? 1 : 0);
        BindBlob(stmt, 4, op.body);
        sqlite3_bind_int64(stmt, 5, id);
        break;
      }

    case Op::Kind::kEnd: {
      if (!found) {
        op.status = NeverJournaled(op.class_id);
        return absl::OkStatus();
      }
      // The stored record takes the final info.
      internal::ClassRecord record;
      {
        sqlite3_stmt* read = read_record_.get();
        ScopedReset reset(read);
        BindText(read, 1, op.class_id);
        const int rc = sqlite3_step(read);
        if (rc != SQLITE_ROW) return SqlFailure(db, rc);
        if (!ParseColumn(read, 0, &record) ||
            !record.mutable_info()->ParseFromString(op.info)) {
          op.status = absl::DataLossError(absl::StrCat(
              "the stored record of class ", op.class_id, " does not parse"));
          return absl::OkStatus();
        }
      }
      op.info = record.SerializeAsString();
      absl::StatusOr<std::string> sealed = SealRow(op.class_id, 0, op.body);
      if (!sealed.ok()) return sealed.status();
      op.body = std::move(*sealed);
      stmt = end_class_.get();
      BindText(stmt, 1, op.class_id);
      BindBlob(stmt, 2, op.info);
      BindBlob(stmt, 3, op.body);
      break;
    }

    case Op::Kind::kErase: {
      if (!found) {
        op.status = NeverJournaled(op.class_id);
        return absl::OkStatus();
      }
      if (!ended) {
        op.status = absl::FailedPreconditionError(
            absl::StrCat("class ", op.class_id, " has not ended"));
        return absl::OkStatus();
      }
      sqlite3_stmt* del = delete_health_.get();
      ScopedReset reset(del);
      BindText(del, 1, op.class_id);
      BindText(del, 2, op.participant_id);
      if (const int rc = StepToEnd(del); rc != SQLITE_OK) {
        return SqlFailure(db, rc);
      }
      absl::StatusOr<std::string> sealed = SealRow(op.class_id, 0, op.body);
      if (!sealed.ok()) return sealed.status();
      op.body = std::move(*sealed);
      stmt = scrub_summary_.get();
      BindText(stmt, 1, op.class_id);
      BindBlob(stmt, 2, op.body);
      sqlite3_bind_int(stmt, 3, op.participant_id.empty() ? 1 : 0);
      break;
    }

    case Op::Kind::kReadSummary:
    case Op::Kind::kReseal:
      return absl::InternalError("a read was applied as a write");
  }
  ScopedReset reset(stmt);
  if (const int rc = StepToEnd(stmt); rc != SQLITE_OK) {
    return SqlFailure(db, rc);
  }
  return absl::OkStatus();
}

// --- Reads at startup: their own connection --------------------------------

absl::StatusOr<std::vector<StoredClass>> SqliteJournal::LoadClasses() {
  absl::MutexLock lock(&read_mu_);
  if (read_db_ == nullptr)
    return absl::UnavailableError("the journal is closed");
  sqlite3_stmt* stmt = load_classes_.get();
  ScopedReset reset(stmt);
  std::vector<StoredClass> classes;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    StoredClass stored;
    const bool ended = sqlite3_column_int(stmt, 3) != 0;
    if (ended ? !ParseInfoOnly(stmt, 1, stored.record.mutable_info())
              : !ParseColumn(stmt, 1, &stored.record)) {
      return absl::DataLossError(
          absl::StrCat(options_.path, ": the stored record of class ",
                       ColumnText(stmt, 0), " does not parse"));
    }
    stored.health_purged = sqlite3_column_int(stmt, 2) != 0;
    classes.push_back(std::move(stored));
  }
  if (rc != SQLITE_DONE) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read ", options_.path, ": ", sqlite3_errmsg(read_db_.get())));
  }
  return classes;
}

absl::StatusOr<std::vector<internal::Entry>> SqliteJournal::LoadEntries(
    const std::string& class_id) {
  absl::MutexLock lock(&read_mu_);
  sqlite3* db = read_db_.get();
  if (db == nullptr) return absl::UnavailableError("the journal is closed");
  auto read_failure = [&] {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", options_.path, ": ", sqlite3_errmsg(db)));
  };
  // One read transaction: the class and its entries from one snapshot.
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return read_failure();
  }
  struct EndRead {
    sqlite3* db;
    ~EndRead() {
      if (!sqlite3_get_autocommit(db)) {
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      }
    }
  } end_read{db};

  {
    sqlite3_stmt* stmt = load_class_.get();
    ScopedReset reset(stmt);
    BindText(stmt, 1, class_id);
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return NeverJournaled(class_id);
    if (rc != SQLITE_ROW) return read_failure();
  }
  sqlite3_stmt* stmt = load_entries_.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, class_id);
  std::vector<internal::Entry> entries;
  int rc;
  int64_t unreadable = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const int64_t id = sqlite3_column_int64(stmt, 0);
    absl::string_view body = ColumnBytes(stmt, 1);
    std::string opened;
    if (KeyRing::IsSealed(body)) {
      absl::StatusOr<std::string> plain =
          options_.keys != nullptr
              ? options_.keys->Open(body, EntryIdentity(class_id, id))
              : absl::NotFoundError("sealed, and no data keys were given");
      if (!plain.ok()) {
        // One unreadable record must not cost the class the rest of its
        // log: it is left out of the replay, and said so.
        ++unreadable;
        LogError(
            "journal %s: entry %d of class %s is left out of its replay: %s",
            options_.path, id, class_id, plain.status().message());
        continue;
      }
      opened = std::move(*plain);
      body = opened;
    }
    internal::Entry entry;
    if (!entry.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return absl::DataLossError(absl::StrCat(options_.path, ": entry ",
                                              entries.size(), " of class ",
                                              class_id, " does not parse"));
    }
    entries.push_back(std::move(entry));
  }
  if (unreadable > 0) {
    absl::MutexLock count_lock(&mu_);
    unreadable_ += unreadable;
  }
  if (rc != SQLITE_DONE) return read_failure();
  return entries;
}

}  // namespace circuit
