#include "server/journal/sealing.h"

#include <sqlite3.h>

#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/journal/journal.h"
#include "server/journal/sqlite_db.h"

namespace circuit {
namespace journal_internal {

bool ShouldSeal(const internal::Entry& entry) {
  return IsHealthEntry(entry) || entry.has_join();
}

std::string EntryIdentity(absl::string_view class_id, int64_t id) {
  return absl::StrCat("entry:", class_id.size(), ":", class_id, ":", id);
}
std::string SummaryIdentity(absl::string_view class_id) {
  return absl::StrCat("summary:", class_id.size(), ":", class_id);
}

std::string ProfileIdentity(absl::string_view profile_id) {
  return absl::StrCat("profile:", profile_id.size(), ":", profile_id);
}
std::string PastClassIdentity(absl::string_view profile_id, int64_t id) {
  return absl::StrCat("past:", profile_id.size(), ":", profile_id, ":", id);
}

absl::StatusOr<std::string> SealAs(const KeyRing* keys,
                                   const std::string& identity,
                                   const std::string& plain) {
  if (keys == nullptr) return plain;
  return keys->Seal(plain, identity);
}

absl::StatusOr<std::string> SealRow(const KeyRing* keys,
                                    const std::string& class_id, int64_t id,
                                    const std::string& plain) {
  if (keys == nullptr) return plain;
  return keys->Seal(
      plain, id == 0 ? SummaryIdentity(class_id) : EntryIdentity(class_id, id));
}

absl::StatusOr<std::string> OpenSealed(const KeyRing* keys,
                                       absl::string_view sealed,
                                       const std::string& identity) {
  if (keys == nullptr) {
    return absl::NotFoundError("sealed, and no data keys were given");
  }
  return keys->Open(sealed, identity);
}

absl::StatusOr<std::string> OpenIfSealed(const KeyRing* keys,
                                         absl::string_view stored,
                                         const std::string& identity) {
  if (!KeyRing::IsSealed(stored)) return std::string(stored);
  return OpenSealed(keys, stored, identity);
}

absl::Status ResealRows(sqlite3* db, const KeyRing& keys,
                        const std::string& path, bool rekey,
                        ResealCounts* counts) {
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
        LogError("journal %s: %s stays as it is: %s", path, where,
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

  // Kept profiles and their past classes: every row is health data. Both
  // selects name the row by its key (?1 in the update) and its profile.
  struct ProfileTable {
    const char* select;
    const char* update;
    bool by_row_id;
  };
  for (const ProfileTable& table :
       {ProfileTable{"SELECT profile_id, profile_id, body FROM profiles",
                     "UPDATE profiles SET body = ?2 WHERE profile_id = ?1",
                     false},
        ProfileTable{"SELECT id, profile_id, body FROM profile_classes",
                     "UPDATE profile_classes SET body = ?2 WHERE id = ?1",
                     true}}) {
    if ((rc = prepare(table.select, &read)) != SQLITE_OK ||
        (rc = prepare(table.update, &write)) != SQLITE_OK) {
      return SqlFailure(db, rc);
    }
    std::vector<std::pair<std::string, std::string>> rows;
    while ((rc = sqlite3_step(read.get())) == SQLITE_ROW) {
      const std::string key = ColumnText(read.get(), 0);
      const std::string profile_id = ColumnText(read.get(), 1);
      const int64_t row_id = sqlite3_column_int64(read.get(), 0);
      absl::StatusOr<std::string> next =
          reseal(ColumnBytes(read.get(), 2),
                 table.by_row_id ? PastClassIdentity(profile_id, row_id)
                                 : ProfileIdentity(profile_id),
                 absl::StrCat("a record of profile ", profile_id),
                 [](absl::string_view) { return true; });
      if (!next.ok()) return next.status();
      if (!next->empty()) rows.emplace_back(key, std::move(*next));
    }
    if (rc != SQLITE_DONE) return SqlFailure(db, rc);
    read.reset();
    for (const auto& [key, body] : rows) {
      ScopedReset reset(write.get());
      if (table.by_row_id) {
        int64_t id = 0;
        if (!absl::SimpleAtoi(key, &id)) continue;
        sqlite3_bind_int64(write.get(), 1, id);
      } else {
        BindText(write.get(), 1, key);
      }
      BindBlob(write.get(), 2, body);
      if ((rc = StepToEnd(write.get())) != SQLITE_OK) return SqlFailure(db, rc);
    }
  }
  return absl::OkStatus();
}

}  // namespace journal_internal
}  // namespace circuit
