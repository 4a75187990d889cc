#ifndef CIRCUIT_SERVER_JOURNAL_SQLITE_SCHEMA_H_
#define CIRCUIT_SERVER_JOURNAL_SQLITE_SCHEMA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

struct sqlite3;

namespace circuit {
namespace journal_internal {

// The schema version this build writes; older files are migrated at Open.
// Version 2 seals health data; a version 1 file's plain health rows are
// sealed when it is migrated (with keys).
inline constexpr int kJournalSchemaVersion = 3;

// Makes the writer connection `db` to the file at `path` ready for the
// journal, at Open: checks, reading and never writing, that the file is a
// journal this build may write; sets the connection's settings (WAL, durable
// commits, zeroed deletes, the page cap `max_page_count` when not 0); and
// upgrades the schema to kJournalSchemaVersion in one transaction. Returns
// the version the file had (0 for a new or empty file). The statuses are
// SqliteJournal::Open's.
absl::StatusOr<int64_t> PrepareSchema(sqlite3* db, const std::string& path,
                                      int64_t max_page_count);

}  // namespace journal_internal
}  // namespace circuit

#endif  // CIRCUIT_SERVER_JOURNAL_SQLITE_SCHEMA_H_
