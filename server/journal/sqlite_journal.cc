#include "server/journal/sqlite_journal.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/common/log.h"

namespace circuit {
namespace {

using journal_internal::BindBlob;
using journal_internal::BindText;
using journal_internal::ColumnBytes;
using journal_internal::ColumnText;
using journal_internal::DataFileLock;
using journal_internal::EntryIdentity;
using journal_internal::Exec;
using journal_internal::OpenSealed;
using journal_internal::ParseColumn;
using journal_internal::PrepareAll;
using journal_internal::QueryInt;
using journal_internal::ResealRows;
using journal_internal::ScopedReset;
using journal_internal::SealRow;
using journal_internal::ShouldSeal;
using journal_internal::SqlFailure;
using journal_internal::StepToEnd;
using journal_internal::SummaryIdentity;
using journal_internal::UnreadableFile;

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

absl::Status NeverJournaled(const std::string& class_id) {
  return absl::NotFoundError(
      absl::StrCat("class ", class_id, " was never journaled"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(
    const SqliteJournalOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("the journal needs a file path");
  }
  absl::StatusOr<DataFileLock> lock = DataFileLock::Acquire(options.path);
  if (!lock.ok()) return lock.status();
  std::unique_ptr<SqliteJournal> journal(
      new SqliteJournal(options, *std::move(lock)));
  if (absl::Status status = journal->Init(); !status.ok()) return status;
  return journal;
}

SqliteJournal::SqliteJournal(const SqliteJournalOptions& options,
                             DataFileLock lock)
    : options_(options),
      lock_(std::move(lock)),
      commits_({options.path, options.max_batch, options.fault_before_commit},
               this) {}

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

  absl::StatusOr<int64_t> version =
      journal_internal::PrepareSchema(raw, path, options_.max_page_count);
  if (!version.ok()) return version.status();
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
  int64_t last_past = 0;
  if (const int id_rc = QueryInt(
          raw, "SELECT coalesce(max(id), 0) FROM profile_classes", &last_past);
      id_rc != SQLITE_OK) {
    return UnreadableFile(path, raw, id_rc);
  }
  next_past_id_ = last_past + 1;
  if (absl::Status status = PrepareStatements(); !status.ok()) return status;
  if (absl::Status status = commits_.Prepare(raw); !status.ok()) return status;
  // A file from before sealing has its plain health rows sealed now, and
  // their plain bytes scrubbed from the file and its WAL.
  if (*version == 1 && options_.keys != nullptr) {
    ResealCounts counts;
    const absl::Status sealed = commits_.RunAlone([&] {
      return ResealRows(raw, *options_.keys, path, /*rekey=*/false, &counts);
    });
    if (!sealed.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot seal the health data of ", path, ": ", sealed.message()));
    }
    LogInfo("journal %s: sealed %d plain health records", path, counts.sealed);
  }
  if (absl::Status status = OpenReader(); !status.ok()) return status;

  commits_.Start();
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
  if ((rc = PrepareAll(
           raw,
           {
               {&load_classes_,
                "SELECT class_id, record, health_purged, ended FROM classes "
                "ORDER BY created_seq"},
               {&load_class_, "SELECT 1 FROM classes WHERE class_id = ?1"},
               {&load_entries_,
                "SELECT id, body FROM entries WHERE class_id = ?1 ORDER BY id"},
               {&load_profiles_,
                "SELECT profile_id, body, (SELECT count(*) FROM "
                "profile_classes c WHERE c.profile_id = p.profile_id) "
                "FROM profiles p ORDER BY profile_id"},
               {&load_recent_past_,
                "SELECT id, body FROM (SELECT id, body FROM profile_classes "
                "WHERE profile_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id"},
           })) != SQLITE_OK) {
    return UnreadableFile(path, raw, rc);
  }
  return absl::OkStatus();
}

absl::Status SqliteJournal::PrepareStatements() {
  const int rc = PrepareAll(
      db_.get(),
      {
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
           "UPDATE classes SET summary = ?2, "
           "health_purged = (health_purged OR ?3) WHERE class_id = ?1"},
          {&put_profile_,
           "INSERT OR REPLACE INTO profiles (profile_id, body) "
           "VALUES (?1, ?2)"},
          {&insert_past_,
           "INSERT INTO profile_classes (id, profile_id, class_id, "
           "participant_id, body) VALUES (?1, ?2, ?3, ?4, ?5)"},
          {&read_history_,
           "SELECT id, body FROM profile_classes WHERE profile_id = ?1 "
           "ORDER BY id"},
          {&delete_profile_, "DELETE FROM profiles WHERE profile_id = ?1"},
          {&delete_past_, "DELETE FROM profile_classes WHERE profile_id = ?1"},
          {&delete_seat_,
           "DELETE FROM entries WHERE class_id = ?1 AND participant_id = ?2"},
      });
  if (rc != SQLITE_OK) return UnreadableFile(options_.path, db_.get(), rc);
  return absl::OkStatus();
}

void SqliteJournal::Close() {
  absl::MutexLock close_lock(&close_mu_);
  commits_.Stop();
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
       {&class_ended_, &read_record_, &insert_class_, &insert_entry_,
        &end_class_, &read_summary_, &delete_health_, &scrub_summary_}) {
    stmt->reset();
  }
  db_.reset();
  lock_.Release();
}

SqliteJournal::Stats SqliteJournal::stats() const { return commits_.stats(); }

int64_t SqliteJournal::unreadable_records() const { return unreadable_.load(); }

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
  commits_.Enqueue(std::move(op));
  done.WaitForNotification();
  if (!status.ok()) return status;
  return counts;
}

// --- Writes: queued to the journal thread ----------------------------------

void SqliteJournal::CreateClass(const internal::ClassRecord& record,
                                JournalDone done) {
  Op op;
  op.kind = Op::Kind::kCreate;
  op.class_id = record.info().class_id();
  op.body = record.SerializeAsString();
  op.done = std::move(done);
  commits_.Enqueue(std::move(op));
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
  commits_.Enqueue(std::move(op));
}

void SqliteJournal::EndClass(const v1::ClassSummary& summary,
                             std::vector<internal::ProfileUpdate> profiles,
                             JournalDone done) {
  Op op;
  op.kind = Op::Kind::kEnd;
  op.profiles = std::move(profiles);
  op.class_id = summary.class_info().class_id();
  op.info = summary.class_info().SerializeAsString();
  op.body = summary.SerializeAsString();
  op.done = std::move(done);
  commits_.Enqueue(std::move(op));
}

void SqliteJournal::ReadSummary(
    const std::string& class_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) {
  Op op;
  op.kind = Op::Kind::kReadSummary;
  op.class_id = class_id;
  op.read_done = std::move(done);
  commits_.Enqueue(std::move(op));
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
  commits_.Enqueue(std::move(op));
}

void SqliteJournal::PutProfile(const internal::StoredProfile& profile,
                               JournalDone done) {
  Op op;
  op.kind = Op::Kind::kPutProfile;
  op.profile_id = profile.profile().profile_id();
  op.body = profile.SerializeAsString();
  op.done = std::move(done);
  commits_.Enqueue(std::move(op));
}

void SqliteJournal::ReadHistory(const std::string& profile_id,
                                HistoryDone done) {
  Op op;
  op.kind = Op::Kind::kReadHistory;
  op.profile_id = profile_id;
  op.history_done = std::move(done);
  commits_.Enqueue(std::move(op));
}

void SqliteJournal::EraseProfile(const std::string& profile_id,
                                 std::vector<ErasedSeat> seats,
                                 JournalDone done) {
  Op op;
  op.kind = Op::Kind::kEraseProfile;
  op.profile_id = profile_id;
  op.seats = std::move(seats);
  op.done = std::move(done);
  commits_.Enqueue(std::move(op));
}

// --- The ops, on the journal thread -----------------------------------------

void SqliteJournal::BatchBegins() {
  batch_created_seq_ = next_created_seq_;
  batch_entry_id_ = next_entry_id_;
  batch_past_id_ = next_past_id_;
}

void SqliteJournal::BatchFailed() {
  next_created_seq_ = batch_created_seq_;
  next_entry_id_ = batch_entry_id_;
  next_past_id_ = batch_past_id_;
}

absl::Status SqliteJournal::PutProfileRow(const std::string& profile_id,
                                          const std::string& body) {
  absl::StatusOr<std::string> sealed = journal_internal::SealAs(
      options_.keys.get(), journal_internal::ProfileIdentity(profile_id), body);
  if (!sealed.ok()) return sealed.status();
  sqlite3_stmt* stmt = put_profile_.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, profile_id);
  BindBlob(stmt, 2, *sealed);
  if (const int rc = StepToEnd(stmt); rc != SQLITE_OK) {
    return SqlFailure(db_.get(), rc);
  }
  return absl::OkStatus();
}

absl::Status SqliteJournal::InsertPastClass(const internal::PastClass& past,
                                            const std::string& profile_id) {
  const int64_t id = next_past_id_++;
  absl::StatusOr<std::string> sealed = journal_internal::SealAs(
      options_.keys.get(), journal_internal::PastClassIdentity(profile_id, id),
      past.SerializeAsString());
  if (!sealed.ok()) return sealed.status();
  sqlite3_stmt* stmt = insert_past_.get();
  ScopedReset reset(stmt);
  sqlite3_bind_int64(stmt, 1, id);
  BindText(stmt, 2, profile_id);
  BindText(stmt, 3, past.class_id());
  BindText(stmt, 4, past.participant().participant_id());
  BindBlob(stmt, 5, *sealed);
  if (const int rc = StepToEnd(stmt); rc != SQLITE_OK) {
    return SqlFailure(db_.get(), rc);
  }
  return absl::OkStatus();
}

absl::Status SqliteJournal::ApplyEraseProfile(Op& op) {
  sqlite3* db = db_.get();
  // Every seat's class must have ended; otherwise nothing is erased.
  for (const ErasedSeat& seat : op.seats) {
    sqlite3_stmt* stmt = class_ended_.get();
    ScopedReset reset(stmt);
    BindText(stmt, 1, seat.class_id);
    const int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlFailure(db, rc);
    if (rc == SQLITE_DONE || sqlite3_column_int(stmt, 0) == 0) {
      op.status = absl::FailedPreconditionError(
          absl::StrCat("class ", seat.class_id, " has not ended"));
      return absl::OkStatus();
    }
  }
  for (const ErasedSeat& seat : op.seats) {
    {
      sqlite3_stmt* stmt = delete_seat_.get();
      ScopedReset reset(stmt);
      BindText(stmt, 1, seat.class_id);
      BindText(stmt, 2, seat.participant_id);
      if (const int rc = StepToEnd(stmt); rc != SQLITE_OK) {
        return SqlFailure(db, rc);
      }
    }
    absl::StatusOr<std::string> sealed =
        SealRow(options_.keys.get(), seat.class_id, 0,
                seat.scrubbed.SerializeAsString());
    if (!sealed.ok()) return sealed.status();
    sqlite3_stmt* stmt = scrub_summary_.get();
    ScopedReset reset(stmt);
    BindText(stmt, 1, seat.class_id);
    BindBlob(stmt, 2, *sealed);
    sqlite3_bind_int(stmt, 3, 0);
    if (const int rc = StepToEnd(stmt); rc != SQLITE_OK) {
      return SqlFailure(db, rc);
    }
  }
  for (sqlite3_stmt* stmt : {delete_past_.get(), delete_profile_.get()}) {
    ScopedReset reset(stmt);
    BindText(stmt, 1, op.profile_id);
    if (const int rc = StepToEnd(stmt); rc != SQLITE_OK) {
      return SqlFailure(db, rc);
    }
  }
  return absl::OkStatus();
}

absl::Status SqliteJournal::ApplyRead(Op& op) {
  if (op.kind == Op::Kind::kReadHistory) {
    sqlite3_stmt* stmt = read_history_.get();
    ScopedReset reset(stmt);
    BindText(stmt, 1, op.profile_id);
    op.history.clear();
    op.status = absl::OkStatus();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const int64_t id = sqlite3_column_int64(stmt, 0);
      absl::StatusOr<std::string> plain = journal_internal::OpenIfSealed(
          options_.keys.get(), ColumnBytes(stmt, 1),
          journal_internal::PastClassIdentity(op.profile_id, id));
      internal::PastClass past;
      if (!plain.ok() || !past.ParseFromString(*plain)) {
        op.status = absl::DataLossError(absl::StrCat(
            "a past class of profile ", op.profile_id, " cannot be read"));
        return absl::OkStatus();
      }
      op.history.push_back(std::move(past));
    }
    if (rc != SQLITE_DONE) return SqlFailure(db_.get(), rc);
    return absl::OkStatus();
  }
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
        OpenSealed(options_.keys.get(), stored, SummaryIdentity(op.class_id));
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
    return ResealRows(db, *options_.keys, options_.path, /*rekey=*/true,
                      op.counts);
  }
  if (op.kind == Op::Kind::kPutProfile) {
    return PutProfileRow(op.profile_id, op.body);
  }
  if (op.kind == Op::Kind::kEraseProfile) return ApplyEraseProfile(op);

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
              SealRow(options_.keys.get(), op.class_id, id, op.body);
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
      absl::StatusOr<std::string> sealed =
          SealRow(options_.keys.get(), op.class_id, 0, op.body);
      if (!sealed.ok()) return sealed.status();
      op.body = std::move(*sealed);
      for (const internal::ProfileUpdate& update : op.profiles) {
        const std::string& profile_id = update.profile().profile().profile_id();
        if (absl::Status put =
                PutProfileRow(profile_id, update.profile().SerializeAsString());
            !put.ok()) {
          return put;
        }
        if (absl::Status past = InsertPastClass(update.past(), profile_id);
            !past.ok()) {
          return past;
        }
      }
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
      absl::StatusOr<std::string> sealed =
          SealRow(options_.keys.get(), op.class_id, 0, op.body);
      if (!sealed.ok()) return sealed.status();
      op.body = std::move(*sealed);
      stmt = scrub_summary_.get();
      BindText(stmt, 1, op.class_id);
      BindBlob(stmt, 2, op.body);
      sqlite3_bind_int(stmt, 3, op.participant_id.empty() ? 1 : 0);
      break;
    }

    case Op::Kind::kReadSummary:
    case Op::Kind::kReadHistory:
    case Op::Kind::kReseal:
    case Op::Kind::kPutProfile:
    case Op::Kind::kEraseProfile:
      return absl::InternalError("an op was applied as another");
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

absl::StatusOr<std::vector<StoredProfileHistory>> SqliteJournal::LoadProfiles(
    int recent) {
  absl::MutexLock lock(&read_mu_);
  sqlite3* db = read_db_.get();
  if (db == nullptr) return absl::UnavailableError("the journal is closed");
  auto read_failure = [&] {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", options_.path, ": ", sqlite3_errmsg(db)));
  };
  std::vector<StoredProfileHistory> profiles;
  {
    sqlite3_stmt* stmt = load_profiles_.get();
    ScopedReset reset(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const std::string profile_id = ColumnText(stmt, 0);
      absl::StatusOr<std::string> plain = journal_internal::OpenIfSealed(
          options_.keys.get(), ColumnBytes(stmt, 1),
          journal_internal::ProfileIdentity(profile_id));
      StoredProfileHistory stored;
      if (!plain.ok() || !stored.profile.ParseFromString(*plain)) {
        ++unreadable_;
        LogError("journal %s: profile %s cannot be read; it is left out",
                 options_.path, profile_id);
        continue;
      }
      stored.class_count = sqlite3_column_int(stmt, 2);
      profiles.push_back(std::move(stored));
    }
    if (rc != SQLITE_DONE) return read_failure();
  }
  sqlite3_stmt* stmt = load_recent_past_.get();
  for (StoredProfileHistory& stored : profiles) {
    const std::string& profile_id = stored.profile.profile().profile_id();
    ScopedReset reset(stmt);
    BindText(stmt, 1, profile_id);
    sqlite3_bind_int(stmt, 2, recent);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const int64_t id = sqlite3_column_int64(stmt, 0);
      absl::StatusOr<std::string> plain = journal_internal::OpenIfSealed(
          options_.keys.get(), ColumnBytes(stmt, 1),
          journal_internal::PastClassIdentity(profile_id, id));
      internal::PastClass past;
      if (!plain.ok() || !past.ParseFromString(*plain)) {
        ++unreadable_;
        LogError("journal %s: past class %d of profile %s cannot be read",
                 options_.path, id, profile_id);
        continue;
      }
      stored.recent.push_back(std::move(past));
    }
    if (rc != SQLITE_DONE) return read_failure();
  }
  return profiles;
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
          OpenSealed(options_.keys.get(), body, EntryIdentity(class_id, id));
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
  if (unreadable > 0) unreadable_ += unreadable;
  if (rc != SQLITE_DONE) return read_failure();
  return entries;
}

}  // namespace circuit
