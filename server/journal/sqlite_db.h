#ifndef CIRCUIT_SERVER_JOURNAL_SQLITE_DB_H_
#define CIRCUIT_SERVER_JOURNAL_SQLITE_DB_H_

// The thin layer over SQLite's C API that every part of SqliteJournal uses:
// owning handles, statement resets, bindings, columns, and the statuses an
// SQLite failure is answered with. Internal to server/journal/.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

struct sqlite3;
struct sqlite3_stmt;

namespace circuit {
namespace journal_internal {

struct DbCloser {
  void operator()(sqlite3* db) const;
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// A statement kept prepared for the connection's life, and its SQL.
struct PersistentSql {
  Stmt* stmt;
  const char* sql;
};

// Prepares each of `statements` on `db` (SQLITE_PREPARE_PERSISTENT); returns
// the SQLite result code of the first that fails, or SQLITE_OK.
int PrepareAll(sqlite3* db, std::initializer_list<PersistentSql> statements);

// Resets a statement and clears its bindings when it goes out of scope.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset();
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* const stmt_;
};

// Binds the bytes of `s`, which must outlive the statement's next reset.
int BindText(sqlite3_stmt* stmt, int index, const std::string& s);
int BindBlob(sqlite3_stmt* stmt, int index, const std::string& s);

// Steps a statement to its end, ignoring rows; SQLITE_OK when it got there.
// The caller resets it.
int StepToEnd(sqlite3_stmt* stmt);

// Runs a statement without bindings to its end and resets it.
int Exec(sqlite3_stmt* stmt);

// Parses a blob column into `message`.
bool ParseColumn(sqlite3_stmt* stmt, int column,
                 google::protobuf::MessageLite* message);

std::string ColumnText(sqlite3_stmt* stmt, int column);

// A blob column's bytes, valid until the statement steps or resets.
absl::string_view ColumnBytes(sqlite3_stmt* stmt, int column);

// Runs one statement, collecting the first column of each row as text.
// Returns the SQLite result code.
int QueryRows(sqlite3* db, const char* sql, std::vector<std::string>* rows);

// Runs one statement that yields one integer.
int QueryInt(sqlite3* db, const char* sql, int64_t* value);

// The answer at Open for a file SQLite could not read.
absl::Status UnreadableFile(const std::string& path, sqlite3* db, int rc);

// Why an SQLite call failed, in words for the writers of a failed batch.
absl::Status SqlFailure(sqlite3* db, int rc);

}  // namespace journal_internal
}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_SQLITE_DB_H_
