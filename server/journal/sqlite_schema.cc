#include "server/journal/sqlite_schema.h"

#include <sqlite3.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/journal/sqlite_db.h"

namespace circuit {
namespace journal_internal {
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
    case 2:
      // Kept profiles (sealed StoredProfile bodies) and their past classes
      // (sealed PastClass bodies), by profile; `class_id` and
      // `participant_id` say which seat each past class was, so an erase
      // finds the seat's entries without opening anything.
      return R"sql(
        CREATE TABLE IF NOT EXISTS profiles (
          profile_id TEXT PRIMARY KEY,
          body BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS profile_classes (
          id INTEGER PRIMARY KEY,
          profile_id TEXT NOT NULL,
          class_id TEXT NOT NULL,
          participant_id TEXT NOT NULL,
          body BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS profile_classes_by_profile
          ON profile_classes (profile_id, id);
      )sql";
  }
  return nullptr;
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
  if (version > kJournalSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " has journal schema version ", version,
        ", newer than this circuitd's (", kJournalSchemaVersion,
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

// Upgrades the schema from `version` to kJournalSchemaVersion in one
// transaction.
absl::Status Migrate(sqlite3* db, const std::string& path, int64_t version) {
  if (version == kJournalSchemaVersion) return absl::OkStatus();
  std::string migration = "BEGIN IMMEDIATE;";
  for (int64_t v = version; v < kJournalSchemaVersion; ++v) {
    const char* step = MigrationFrom(static_cast<int>(v));
    if (step == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " has journal schema version ", version,
                       ", which this circuitd cannot upgrade"));
    }
    migration += step;
  }
  absl::StrAppend(&migration, "PRAGMA application_id=", kApplicationId,
                  "; PRAGMA user_version=", kJournalSchemaVersion, "; COMMIT;");
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

}  // namespace

absl::StatusOr<int64_t> PrepareSchema(sqlite3* db, const std::string& path,
                                      int64_t max_page_count) {
  absl::StatusOr<int64_t> version = CheckFile(db, path);
  if (!version.ok()) return version.status();
  if (absl::Status status = Configure(db, path, max_page_count); !status.ok()) {
    return status;
  }
  if (absl::Status status = Migrate(db, path, *version); !status.ok()) {
    return status;
  }
  return version;
}

}  // namespace journal_internal
}  // namespace circuit
