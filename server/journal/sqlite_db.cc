#include "server/journal/sqlite_db.h"

#include <sqlite3.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace circuit {
namespace journal_internal {

void DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

void StmtFinalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

int PrepareAll(sqlite3* db, std::initializer_list<PersistentSql> statements) {
  for (const PersistentSql& s : statements) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db, s.sql, -1, SQLITE_PREPARE_PERSISTENT,
                                      &stmt, nullptr);
    if (rc != SQLITE_OK) return rc;
    s.stmt->reset(stmt);
  }
  return SQLITE_OK;
}

ScopedReset::~ScopedReset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int BindText(sqlite3_stmt* stmt, int index, const std::string& s) {
  return sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC,
                             SQLITE_UTF8);
}
int BindBlob(sqlite3_stmt* stmt, int index, const std::string& s) {
  return sqlite3_bind_blob64(stmt, index, s.data(), s.size(), SQLITE_STATIC);
}

int StepToEnd(sqlite3_stmt* stmt) {
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int Exec(sqlite3_stmt* stmt) {
  ScopedReset reset(stmt);
  return StepToEnd(stmt);
}

bool ParseColumn(sqlite3_stmt* stmt, int column,
                 google::protobuf::MessageLite* message) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  return message->ParseFromArray(data, size);
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(size));
}

absl::string_view ColumnBytes(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(data),
                           static_cast<size_t>(size));
}

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

int QueryInt(sqlite3* db, const char* sql, int64_t* value) {
  std::vector<std::string> rows;
  const int rc = QueryRows(db, sql, &rows);
  if (rc != SQLITE_OK) return rc;
  if (rows.empty() || !absl::SimpleAtoi(rows[0], value)) return SQLITE_ERROR;
  return SQLITE_OK;
}

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

}  // namespace journal_internal
}  // namespace circuit
