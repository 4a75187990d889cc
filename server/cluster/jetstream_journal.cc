#include "server/cluster/jetstream_journal.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/cluster/fence.h"
#include "server/common/log.h"
#include "server/common/stats.h"
#include "server/journal/sealing.h"

namespace circuit::cluster {
namespace {

constexpr char kHistoryStream[] = "CIRCUIT_HISTORY";
constexpr char kClassesBucket[] = "circuit_classes";
constexpr char kSummaryStream[] = "CIRCUIT_SUMMARIES";
constexpr char kProfileStream[] = "CIRCUIT_PROFILES";

std::string HistorySubject(const std::string& profile_id) {
  return absl::StrCat("circuit.history.", profile_id);
}

std::string EntryIdentity(const std::string& class_id, int64_t term,
                          int64_t n) {
  return absl::StrCat("cluster-entry/", class_id.size(), ":", class_id, "/",
                      term, "/", n);
}

std::string PastIdentity(const std::string& profile_id,
                         const std::string& class_id) {
  return absl::StrCat("cluster-past/", profile_id.size(), ":", profile_id, "/",
                      class_id);
}

}  // namespace

JetStreamJournal::JetStreamJournal(Nats& nats, JetStreamJournalOptions options)
    : nats_(nats), options_(std::move(options)) {}

namespace {

// Where nodes announce the classes they take.
constexpr char kOwnerSubject[] = "circuit.classes.owner";

void OnAnnouncement(natsConnection* /*nc*/, natsSubscription* /*sub*/,
                    natsMsg* msg, void* closure) {
  auto& listening =
      *static_cast<std::shared_ptr<JetStreamJournal::Listening>*>(closure);
  const std::vector<std::string> parts = absl::StrSplit(
      absl::string_view(natsMsg_GetData(msg),
                        static_cast<size_t>(natsMsg_GetDataLength(msg))),
      '\n');
  natsMsg_Destroy(msg);
  if (parts.size() != 3 || parts[0].empty() || parts[2].empty()) return;
  absl::MutexLock lock(&listening->mu);
  if (listening->journal != nullptr) {
    listening->journal->Noticed(parts[0], parts[1], parts[2]);
  }
}

// Where nodes tell each other that a profile changed (its id; nothing
// secret).
constexpr char kProfileNoticeSubject[] = "circuit.profiles.changed";

void OnProfileNotice(natsConnection* /*nc*/, natsSubscription* /*sub*/,
                     natsMsg* msg, void* closure) {
  auto& listening =
      *static_cast<std::shared_ptr<JetStreamJournal::Listening>*>(closure);
  const std::string profile_id(natsMsg_GetData(msg),
                               static_cast<size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  // An id names a subject (circuit.history.<id>): nothing else is read.
  if (profile_id.empty() || profile_id.size() > 128 ||
      !std::all_of(profile_id.begin(), profile_id.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_';
      })) {
    return;
  }
  absl::MutexLock lock(&listening->mu);
  if (listening->journal != nullptr) {
    listening->journal->ProfileNoticed(profile_id);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<JetStreamJournal>> JetStreamJournal::Open(
    Nats& nats, JetStreamJournalOptions options) {
  std::unique_ptr<JetStreamJournal> journal(
      new JetStreamJournal(nats, std::move(options)));
  if (absl::Status s = journal->Setup(); !s.ok()) return s;
  journal->writer_ = std::thread([j = journal.get()] { j->RunWrites(); });
  journal->renewer_ = std::thread([j = journal.get()] { j->RenewLeases(); });
  return journal;
}

absl::Status JetStreamJournal::Setup() {
  const int r = options_.replicas;
  if (absl::Status s = EnsureClassStream(nats_, r); !s.ok()) return s;
  if (absl::Status s =
          EnsureStream(nats_, kHistoryStream, "circuit.history.>", r);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<LeaseBucket>> leases =
      LeaseBucket::Open(nats_, options_.lease, r);
  if (!leases.ok()) return leases.status();
  leases_ = *std::move(leases);
  absl::StatusOr<std::unique_ptr<Bucket>> classes =
      Bucket::Open(nats_, kClassesBucket, r, 1);
  if (!classes.ok()) return classes.status();
  classes_ = *std::move(classes);
  absl::StatusOr<std::unique_ptr<RecordStream>> summaries =
      RecordStream::Open(nats_, kSummaryStream, "circuit.summary", r);
  if (!summaries.ok()) return summaries.status();
  summaries_ = *std::move(summaries);
  absl::StatusOr<std::unique_ptr<RecordStream>> profiles =
      RecordStream::Open(nats_, kProfileStream, "circuit.profile", r);
  if (!profiles.ok()) return profiles.status();
  profiles_ = *std::move(profiles);
  {
    absl::MutexLock lock(&listening_->mu);
    listening_->journal = this;
  }
  absl::StatusOr<Subscription> announcements =
      SubscribeShared(nats_, kOwnerSubject, &OnAnnouncement, listening_);
  if (!announcements.ok()) return announcements.status();
  announcements_ = *std::move(announcements);
  return absl::OkStatus();
}

JetStreamJournal::~JetStreamJournal() {
  {
    absl::MutexLock lock(&listening_->mu);
    listening_->journal = nullptr;
  }
  announcements_.Reset();
  profile_notices_.Reset();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    handoffs_stopping_ = true;
  }
  if (profile_reader_.joinable()) profile_reader_.join();
  if (writer_.joinable()) writer_.join();
  if (renewer_.joinable()) renewer_.join();
  if (scanner_.joinable()) scanner_.join();
  // What is still owned is released, so another node takes it at once.
  absl::flat_hash_map<std::string, std::shared_ptr<Owned>> owned;
  {
    absl::MutexLock lock(&mu_);
    owned.swap(owned_);
  }
  for (auto& [class_id, o] : owned) {
    o->log.reset();
    leases_->Release(class_id, o->lease);
  }
}

// --- Sealing -----------------------------------------------------------------

absl::StatusOr<std::string> JetStreamJournal::Seal(
    const std::string& identity, const std::string& plain) const {
  return journal_internal::SealAs(options_.keys.get(), identity, plain);
}

absl::StatusOr<std::string> JetStreamJournal::Open(
    const std::string& identity, const std::string& stored) const {
  return journal_internal::OpenIfSealed(options_.keys.get(), stored, identity);
}

std::string JetStreamJournal::EntryBytes(const std::string& class_id,
                                         int64_t term, int64_t n,
                                         const internal::Entry& entry) const {
  std::string plain = entry.SerializeAsString();
  if (!journal_internal::ShouldSeal(entry)) return plain;
  absl::StatusOr<std::string> sealed =
      Seal(EntryIdentity(class_id, term, n), plain);
  // Sealing fails only without randomness; a plain record is never written
  // in its place.
  return sealed.ok() ? *std::move(sealed) : std::string();
}

// --- The journal's thread ----------------------------------------------------

void JetStreamJournal::Enqueue(Op op) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      return;
    }
  }
  op.done(absl::UnavailableError("the journal is closed"));
}

void JetStreamJournal::RunWrites() {
  while (true) {
    std::deque<Op> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](JetStreamJournal* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
            return j->stopping_ || !j->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
    }
    // Appends go out together; anything else waits for the appends before
    // it, so writes take effect in the order they were made.
    struct Answers {
      absl::Mutex mu;
      int outstanding ABSL_GUARDED_BY(mu) = 0;
    };
    auto answers = std::make_shared<Answers>();
    std::vector<absl::Status> results(batch.size());
    auto wait_for_appends = [&] {
      absl::MutexLock lock(&answers->mu);
      answers->mu.Await(absl::Condition(
          +[](Answers* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(a->mu) {
            return a->outstanding == 0;
          },
          answers.get()));
    };
    for (size_t i = 0; i < batch.size(); ++i) {
      Op& op = batch[i];
      if (!op.append_class.empty()) {
        std::shared_ptr<Owned> owned;
        {
          absl::MutexLock lock(&mu_);
          auto it = owned_.find(op.append_class);
          if (it != owned_.end()) owned = it->second;
        }
        if (owned == nullptr) {
          uint64_t ignored = 0;
          absl::StatusOr<internal::ClusterClass> c =
              ReadClass(op.append_class, &ignored);
          results[i] = c.ok() ? absl::UnavailableError(absl::StrCat(
                                    "class ", op.append_class,
                                    " is not owned by node ", options_.node))
                              : c.status();
          continue;
        }
        {
          absl::MutexLock lock(&answers->mu);
          ++answers->outstanding;
        }
        const internal::Entry& entry = op.append_entry;
        const std::string& class_id = op.append_class;
        const int64_t term = owned->log->term();
        owned->log->Append(
            [&](int64_t n) { return EntryBytes(class_id, term, n, entry); },
            [answers, result = &results[i]](absl::Status s) {
              absl::MutexLock lock(&answers->mu);
              *result = std::move(s);
              --answers->outstanding;
            });
        continue;
      }
      wait_for_appends();
      results[i] = op.run();
    }
    wait_for_appends();
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(results[i]));
    }
  }
}

void JetStreamJournal::RenewLeases() {
  const absl::Duration every = options_.lease / 4;
  while (true) {
    std::vector<std::pair<std::string, std::shared_ptr<Owned>>> owned;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), every)) return;
      owned.assign(owned_.begin(), owned_.end());
    }
    for (auto& [class_id, o] : owned) {
      Held lease;
      {
        absl::MutexLock lock(&mu_);
        lease = o->lease;
      }
      absl::StatusOr<Held> renewed =
          leases_->Renew(class_id, options_.node, lease);
      if (renewed.ok()) {
        absl::MutexLock lock(&mu_);
        o->lease = *renewed;
        continue;
      }
      ProcessStats().cluster_lease_renew_failures.fetch_add(
          1, std::memory_order_relaxed);
      // Unanswered, the lease still holds until act_until; refused, or
      // past it, this node stops acting for the class.
      if (absl::IsUnavailable(renewed.status()) &&
          absl::Now() < lease.act_until) {
        continue;
      }
      absl::Status why = absl::UnavailableError(
          absl::StrCat("class ", class_id, ": node ", options_.node,
                       " lost its lease: ", renewed.status().message()));
      o->log->StepDown(why);
      Disown(class_id, o.get(), why);
    }
  }
}

void JetStreamJournal::Disown(const std::string& class_id, const Owned* owned,
                              absl::Status why) {
  std::shared_ptr<Owned> gone;
  absl::MutexLock lock(&mu_);
  auto it = owned_.find(class_id);
  if (it == owned_.end() || it->second.get() != owned) return;
  // Destroyed on the scanner's thread, not on the nats.c thread that may be
  // reading its log right now.
  gone = std::move(it->second);
  owned_.erase(it);
  LogWarning("%s", why.message());
  losses_.emplace_back(class_id, std::move(why));
  retired_.push_back(std::move(gone));
}

void JetStreamJournal::StartHandoffs(Handoffs handoffs, absl::Duration every) {
  ProcessStats().clustered.store(true, std::memory_order_relaxed);
  handoffs_ = std::move(handoffs);
  scanner_ = std::thread([this, every] { ScanForOrphans(every); });
}

void JetStreamJournal::StopHandoffs() {
  {
    absl::MutexLock lock(&mu_);
    handoffs_stopping_ = true;
  }
  if (scanner_.joinable()) scanner_.join();
}

std::optional<JetStreamJournal::Where> JetStreamJournal::Locate(
    const std::string& class_id, const std::string& join_code) const {
  absl::MutexLock lock(&mu_);
  std::string id = class_id;
  if (id.empty()) {
    auto code = class_of_code_.find(absl::AsciiStrToUpper(join_code));
    if (code == class_of_code_.end()) return std::nullopt;
    id = code->second;
  }
  if (owned_.contains(id)) return Where{id, options_.node};
  auto it = owner_of_.find(id);
  if (it == owner_of_.end()) return std::nullopt;
  return Where{id, it->second};
}

std::vector<v1::ClassInfo> JetStreamJournal::Listed() const {
  absl::MutexLock lock(&mu_);
  return listed_;
}

absl::StatusOr<internal::Entry> JetStreamJournal::OpenEntry(
    const std::string& class_id, const internal::LogRecord& record) const {
  absl::StatusOr<std::string> plain =
      Open(EntryIdentity(class_id, record.term(), record.n()), record.entry());
  internal::Entry entry;
  if (!plain.ok() || !entry.ParseFromString(*plain)) {
    return absl::DataLossError(absl::StrCat("class ", class_id, ": entry ",
                                            record.term(), ".", record.n(),
                                            " does not open or parse"));
  }
  return entry;
}

void JetStreamJournal::ScanForOrphans(absl::Duration every) {
  bool first = true;
  while (true) {
    std::vector<std::pair<std::string, absl::Status>> losses;
    std::vector<std::shared_ptr<Owned>> retired;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || handoffs_stopping_ || !losses_.empty();
      };
      if (!first) mu_.AwaitWithTimeout(absl::Condition(&ready), every);
      first = false;
      if (stopping_ || handoffs_stopping_) return;
      losses.swap(losses_);
      retired.swap(retired_);
    }
    retired.clear();
    for (auto& [class_id, why] : losses) {
      if (handoffs_.lost) handoffs_.lost(class_id, why);
    }
    if (!losses.empty()) continue;  // losses first; the scan comes after
    const absl::Time scan_began = absl::Now();
    absl::StatusOr<std::vector<std::string>> keys = classes_->Keys();
    if (!keys.ok()) continue;  // the cluster is unreachable: next time
    absl::flat_hash_map<std::string, std::string> owner_of;
    absl::flat_hash_map<std::string, std::string> class_of_code;
    std::vector<internal::ClassRecord> orphans;
    std::vector<v1::ClassInfo> listed;
    for (const std::string& class_id : *keys) {
      uint64_t revision = 0;
      absl::StatusOr<internal::ClusterClass> c = ReadClass(class_id, &revision);
      if (!c.ok()) continue;
      listed.push_back(c->record().info());
      if (c->ended()) continue;
      absl::StatusOr<std::string> holder = leases_->Holder(class_id);
      if (holder.ok()) {
        owner_of[class_id] = *holder;
      } else if (absl::IsNotFound(holder.status())) {
        owner_of[class_id] = "";
        orphans.push_back(c->record());
      } else {
        continue;  // unknown this time
      }
      class_of_code[absl::AsciiStrToUpper(c->record().info().join_code())] =
          class_id;
    }
    {
      absl::MutexLock lock(&mu_);
      // What was announced since this look began is newer than what it
      // read.
      for (auto it = notices_.begin(); it != notices_.end();) {
        if (it->second.at < scan_began) {
          notices_.erase(it++);
          continue;
        }
        owner_of[it->first] = it->second.owner;
        class_of_code[absl::AsciiStrToUpper(it->second.join_code)] = it->first;
        ++it;
      }
      owner_of_.swap(owner_of);
      class_of_code_.swap(class_of_code);
      listed_.swap(listed);
    }
    for (const internal::ClassRecord& record : orphans) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_ || handoffs_stopping_) return;
        if (owned_.contains(record.info().class_id())) continue;
      }
      if (handoffs_.orphan) handoffs_.orphan(record);
    }
    // After this look's takeovers: what this node owns, and what still
    // waits for an owner.
    absl::MutexLock lock(&mu_);
    int64_t without_owner = 0;
    for (const internal::ClassRecord& record : orphans) {
      without_owner += owned_.contains(record.info().class_id()) ? 0 : 1;
    }
    ProcessStats().cluster_classes_without_owner.store(
        without_owner, std::memory_order_relaxed);
    ProcessStats().cluster_classes_owned.store(
        static_cast<int64_t>(owned_.size()), std::memory_order_relaxed);
  }
}

// --- Classes -----------------------------------------------------------------

absl::StatusOr<internal::ClusterClass> JetStreamJournal::ReadClass(
    const std::string& class_id, uint64_t* revision) {
  absl::StatusOr<Bucket::Value> value = classes_->Get(class_id);
  if (absl::IsNotFound(value.status())) {
    return absl::NotFoundError(
        absl::StrCat("class ", class_id, " was never journaled"));
  }
  if (!value.ok()) return value.status();
  internal::ClusterClass c;
  if (!c.ParseFromString(value->data)) {
    return absl::DataLossError(
        absl::StrCat("class ", class_id, ": its directory entry is corrupt"));
  }
  *revision = value->revision;
  return c;
}

void JetStreamJournal::CreateClass(const internal::ClassRecord& record,
                                   JournalDone done) {
  Op op;
  op.run = [this, record] { return DoCreate(record); };
  op.done = std::move(done);
  Enqueue(std::move(op));
}

absl::Status JetStreamJournal::DoCreate(const internal::ClassRecord& record) {
  const std::string& class_id = record.info().class_id();
  if (absl::Status s =
          CreateClassLog(nats_, record, options_.node, options_.timeout);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<StoredMessage>> first =
      ReadSubject(nats_, kClassStream, ClassSubject(class_id));
  internal::ClusterClass c;
  *c.mutable_record() = record;
  c.set_created_seq(first.ok() && !first->empty() ? (*first)[0].seq : 0);
  if (absl::StatusOr<uint64_t> put =
          classes_->Put(class_id, c.SerializeAsString());
      !put.ok()) {
    return put.status();
  }
  absl::StatusOr<std::vector<internal::Entry>> claimed = Claim(class_id);
  return claimed.status();
}

absl::StatusOr<std::vector<internal::Entry>> JetStreamJournal::Claim(
    const std::string& class_id) {
  absl::StatusOr<Held> held = leases_->Take(class_id, options_.node);
  if (!held.ok()) return held.status();
  OwnedLog::Options options;
  options.class_id = class_id;
  options.term = held->term;
  options.node = options_.node;
  options.timeout = options_.timeout;
  OwnedLog::Claimed claimed;
  absl::StatusOr<std::unique_ptr<OwnedLog>> log =
      OwnedLog::Claim(nats_, options, &claimed);
  if (!log.ok()) {
    leases_->Release(class_id, *held);
    return log.status();
  }
  std::vector<internal::Entry> entries;
  for (const internal::LogRecord& record : claimed.entries) {
    absl::StatusOr<internal::Entry> entry = OpenEntry(class_id, record);
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  auto owned = std::make_shared<Owned>();
  owned->log = *std::move(log);
  owned->lease = *held;
  owned->log->OnLost([this, class_id, raw = owned.get()](absl::Status why) {
    Disown(class_id, raw, std::move(why));
  });
  {
    absl::MutexLock lock(&mu_);
    owned_[class_id] = std::move(owned);
  }
  AnnounceOwner(claimed.record);
  return entries;
}

void JetStreamJournal::AnnounceOwner(const internal::ClassRecord& record) {
  // class id, join code and owner, a line each: nothing secret (a kiosk
  // shows the join code).
  const std::string notice =
      absl::StrCat(record.info().class_id(), "\n", record.info().join_code(),
                   "\n", options_.node);
  // Best effort: the next look finds what a lost announcement said.
  natsConnection_Publish(nats_.connection(), kOwnerSubject, notice.data(),
                         static_cast<int>(notice.size()));
}

void JetStreamJournal::Noticed(const std::string& class_id,
                               const std::string& join_code,
                               const std::string& owner) {
  absl::MutexLock lock(&mu_);
  owner_of_[class_id] = owner;
  class_of_code_[absl::AsciiStrToUpper(join_code)] = class_id;
  notices_[class_id] = Notice{join_code, owner, absl::Now()};
}

void JetStreamJournal::Append(const std::string& class_id,
                              internal::Entry entry, JournalDone done) {
  Op op;
  op.append_class = class_id;
  op.append_entry = std::move(entry);
  op.done = std::move(done);
  Enqueue(std::move(op));
}

absl::StatusOr<std::vector<JetStreamJournal::LoggedEntry>>
JetStreamJournal::ReadEntries(const std::string& class_id, bool ended) {
  absl::StatusOr<std::vector<StoredMessage>> messages =
      ReadSubject(nats_, kClassStream, ClassSubject(class_id));
  if (!messages.ok()) return messages.status();
  FenceReader fence;
  std::vector<internal::LogRecord> taken;
  std::map<std::pair<int64_t, int64_t>, uint64_t> seq_of;
  for (const StoredMessage& message : *messages) {
    internal::LogRecord record;
    if (!record.ParseFromString(message.data)) continue;
    if (record.has_entry()) seq_of[{record.term(), record.n()}] = message.seq;
    fence.Next(std::move(record), &taken);
  }
  if (ended) fence.Flush(&taken);
  std::vector<LoggedEntry> entries;
  for (const internal::LogRecord& record : taken) {
    absl::StatusOr<internal::Entry> entry = OpenEntry(class_id, record);
    if (!entry.ok()) return entry.status();
    LoggedEntry& logged = entries.emplace_back();
    logged.entry = *std::move(entry);
    logged.seq = seq_of[{record.term(), record.n()}];
  }
  return entries;
}

absl::StatusOr<std::vector<StoredClass>> JetStreamJournal::LoadClasses() {
  absl::StatusOr<std::vector<std::string>> keys = classes_->Keys();
  if (!keys.ok()) return keys.status();
  std::vector<internal::ClusterClass> all;
  for (const std::string& key : *keys) {
    uint64_t revision = 0;
    absl::StatusOr<internal::ClusterClass> c = ReadClass(key, &revision);
    if (absl::IsNotFound(c.status())) continue;  // deleted meanwhile
    if (!c.ok()) return c.status();
    all.push_back(*std::move(c));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.created_seq() < b.created_seq();
  });
  std::vector<StoredClass> classes;
  for (internal::ClusterClass& c : all) {
    StoredClass& stored = classes.emplace_back();
    stored.record = std::move(*c.mutable_record());
    stored.health_purged = c.health_purged();
  }
  return classes;
}

absl::StatusOr<std::vector<internal::Entry>> JetStreamJournal::LoadEntries(
    const std::string& class_id) {
  uint64_t revision = 0;
  absl::StatusOr<internal::ClusterClass> c = ReadClass(class_id, &revision);
  if (!c.ok()) return c.status();
  if (!c->ended()) {
    bool owned = false;
    {
      absl::MutexLock lock(&mu_);
      owned = owned_.contains(class_id);
    }
    if (!owned) return Claim(class_id);
  }
  absl::StatusOr<std::vector<LoggedEntry>> logged =
      ReadEntries(class_id, /*ended=*/c->ended());
  if (!logged.ok()) return logged.status();
  std::vector<internal::Entry> entries;
  for (LoggedEntry& l : *logged) entries.push_back(std::move(l.entry));
  return entries;
}

std::vector<std::string> JetStreamJournal::OwnedClasses() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, o] : owned_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// --- Ending, summaries, erasing ----------------------------------------------

absl::Status JetStreamJournal::PutSummary(const v1::ClassSummary& summary) {
  const std::string& class_id = summary.class_info().class_id();
  absl::StatusOr<std::string> sealed = Seal(
      journal_internal::SummaryIdentity(class_id), summary.SerializeAsString());
  if (!sealed.ok()) return sealed.status();
  return summaries_->Put(class_id, *sealed);
}

void JetStreamJournal::EndClass(const v1::ClassSummary& summary,
                                std::vector<internal::ProfileUpdate> profiles,
                                JournalDone done) {
  Op op;
  op.run = [this, summary, profiles = std::move(profiles)]() mutable {
    return DoEnd(summary, profiles);
  };
  op.done = std::move(done);
  Enqueue(std::move(op));
}

absl::Status JetStreamJournal::DoEnd(
    const v1::ClassSummary& summary,
    std::vector<internal::ProfileUpdate>& profiles) {
  const std::string& class_id = summary.class_info().class_id();
  uint64_t revision = 0;
  absl::StatusOr<internal::ClusterClass> c = ReadClass(class_id, &revision);
  if (!c.ok()) return c.status();
  // Each profile's past class first (a retried end adds it once: readers
  // take one past class per class), then the profile, the summary and,
  // last, the directory's entry: once it says ended, all of it is there.
  for (internal::ProfileUpdate& update : profiles) {
    const std::string& profile_id = update.profile().profile().profile_id();
    absl::StatusOr<std::string> past = Seal(PastIdentity(profile_id, class_id),
                                            update.past().SerializeAsString());
    if (!past.ok()) return past.status();
    absl::StatusOr<uint64_t> seq = nats_.Publish(
        HistorySubject(profile_id), absl::StrCat(class_id, "|", *past),
        absl::StrCat(profile_id, ".", class_id), false);
    if (!seq.ok()) return seq.status();
    absl::StatusOr<std::string> stored =
        Seal(journal_internal::ProfileIdentity(profile_id),
             update.profile().SerializeAsString());
    if (!stored.ok()) return stored.status();
    if (absl::Status put = profiles_->Put(profile_id, *stored); !put.ok()) {
      return put;
    }
  }
  for (const internal::ProfileUpdate& update : profiles) {
    NoticeProfile(update.profile().profile().profile_id());
  }
  if (absl::Status s = PutSummary(summary); !s.ok()) return s;
  internal::ClusterClass ended;
  *ended.mutable_record()->mutable_info() = summary.class_info();
  ended.set_created_seq(c->created_seq());
  ended.set_ended(true);
  ended.set_health_purged(c->health_purged());
  absl::StatusOr<uint64_t> put =
      classes_->Put(class_id, ended.SerializeAsString());
  return put.status();
}

void JetStreamJournal::ReadSummary(
    const std::string& class_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::ClassSummary>)> done) {
  auto result = std::make_shared<absl::StatusOr<v1::ClassSummary>>();
  Op op;
  op.run = [this, class_id, result]() -> absl::Status {
    absl::StatusOr<std::string> value = summaries_->Get(class_id);
    if (absl::IsNotFound(value.status())) {
      return absl::NotFoundError(
          absl::StrCat("class ", class_id, " has no stored summary"));
    }
    if (!value.ok()) return value.status();
    absl::StatusOr<std::string> plain =
        Open(journal_internal::SummaryIdentity(class_id), *value);
    v1::ClassSummary summary;
    if (!plain.ok() || !summary.ParseFromString(*plain)) {
      return absl::DataLossError(absl::StrCat(
          "class ", class_id, ": its summary does not open or parse"));
    }
    *result = std::move(summary);
    return absl::OkStatus();
  };
  op.done = [result, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      done(s);
    } else {
      done(std::move(*result));
    }
  };
  Enqueue(std::move(op));
}

void JetStreamJournal::EraseHealthData(const v1::ClassSummary& scrubbed,
                                       const std::string& participant_id,
                                       JournalDone done) {
  Op op;
  op.run = [this, scrubbed, participant_id] {
    return DoEraseHealth(scrubbed, participant_id);
  };
  op.done = std::move(done);
  Enqueue(std::move(op));
}

absl::Status JetStreamJournal::DoEraseHealth(
    const v1::ClassSummary& scrubbed, const std::string& participant_id) {
  const std::string& class_id = scrubbed.class_info().class_id();
  uint64_t revision = 0;
  absl::StatusOr<internal::ClusterClass> c = ReadClass(class_id, &revision);
  if (!c.ok()) return c.status();
  if (!c->ended()) {
    return absl::FailedPreconditionError(
        absl::StrCat("class ", class_id, " has not ended"));
  }
  absl::StatusOr<std::vector<LoggedEntry>> entries =
      ReadEntries(class_id, /*ended=*/true);
  if (!entries.ok()) return entries.status();
  for (const LoggedEntry& logged : *entries) {
    if (!IsHealthEntry(logged.entry)) continue;
    if (!participant_id.empty() &&
        ParticipantOf(logged.entry) != participant_id) {
      continue;
    }
    if (absl::Status s = EraseMessage(nats_, kClassStream, logged.seq);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = PutSummary(scrubbed); !s.ok()) return s;
  if (participant_id.empty() && !c->health_purged()) {
    c->set_health_purged(true);
    absl::StatusOr<uint64_t> put =
        classes_->Put(class_id, c->SerializeAsString());
    return put.status();
  }
  return absl::OkStatus();
}

// --- Profiles ----------------------------------------------------------------

void JetStreamJournal::PutProfile(const internal::StoredProfile& profile,
                                  JournalDone done) {
  Op op;
  op.run = [this, profile]() -> absl::Status {
    const std::string& id = profile.profile().profile_id();
    absl::StatusOr<std::string> sealed = Seal(
        journal_internal::ProfileIdentity(id), profile.SerializeAsString());
    if (!sealed.ok()) return sealed.status();
    absl::Status put = profiles_->Put(id, *sealed);
    if (put.ok()) NoticeProfile(id);
    return put;
  };
  op.done = std::move(done);
  Enqueue(std::move(op));
}

absl::StatusOr<std::vector<StoredMessage>>
JetStreamJournal::ReadHistoryMessages(const std::string& profile_id) {
  return ReadSubject(nats_, kHistoryStream, HistorySubject(profile_id));
}

absl::StatusOr<std::vector<internal::PastClass>>
JetStreamJournal::DoReadHistory(const std::string& profile_id) {
  absl::StatusOr<std::vector<StoredMessage>> messages =
      ReadHistoryMessages(profile_id);
  if (!messages.ok()) return messages.status();
  std::vector<internal::PastClass> past;
  std::set<std::string> seen;
  for (const StoredMessage& message : *messages) {
    // "<class id>|<sealed past class>": the seal is bound to the profile
    // and the class, so the class id is kept in the clear before it.
    internal::PastClass pc;
    const size_t bar = message.data.find('|');
    if (bar == std::string::npos) continue;
    const std::string class_id = message.data.substr(0, bar);
    absl::StatusOr<std::string> plain =
        Open(PastIdentity(profile_id, class_id), message.data.substr(bar + 1));
    if (!plain.ok() || !pc.ParseFromString(*plain)) {
      return absl::DataLossError(
          absl::StrCat("profile history: a past class does not open or parse"));
    }
    if (!seen.insert(pc.class_id()).second) continue;  // a retried end
    past.push_back(std::move(pc));
  }
  return past;
}

void JetStreamJournal::ReadHistory(const std::string& profile_id,
                                   HistoryDone done) {
  auto result = std::make_shared<std::vector<internal::PastClass>>();
  Op op;
  op.run = [this, profile_id, result]() -> absl::Status {
    absl::StatusOr<std::vector<internal::PastClass>> past =
        DoReadHistory(profile_id);
    if (!past.ok()) return past.status();
    *result = *std::move(past);
    return absl::OkStatus();
  };
  op.done = [result, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      done(s);
    } else {
      done(std::move(*result));
    }
  };
  Enqueue(std::move(op));
}

void JetStreamJournal::EraseProfile(const std::string& profile_id,
                                    std::vector<ErasedSeat> seats,
                                    JournalDone done) {
  Op op;
  op.run = [this, profile_id, seats = std::move(seats)] {
    return DoEraseProfile(profile_id, seats);
  };
  op.done = std::move(done);
  Enqueue(std::move(op));
}

absl::Status JetStreamJournal::DoEraseProfile(
    const std::string& profile_id, const std::vector<ErasedSeat>& seats) {
  // Every seat's class must have ended before anything is erased.
  for (const ErasedSeat& seat : seats) {
    uint64_t revision = 0;
    absl::StatusOr<internal::ClusterClass> c =
        ReadClass(seat.class_id, &revision);
    if (!c.ok()) return c.status();
    if (!c->ended()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "class ", seat.class_id, " has not ended: nothing was erased"));
    }
  }
  for (const ErasedSeat& seat : seats) {
    absl::StatusOr<std::vector<LoggedEntry>> entries =
        ReadEntries(seat.class_id, /*ended=*/true);
    if (!entries.ok()) return entries.status();
    for (const LoggedEntry& logged : *entries) {
      if (ParticipantOf(logged.entry) != seat.participant_id) continue;
      if (absl::Status s = EraseMessage(nats_, kClassStream, logged.seq);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = PutSummary(seat.scrubbed); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<StoredMessage>> history =
      ReadHistoryMessages(profile_id);
  if (!history.ok()) return history.status();
  for (const StoredMessage& message : *history) {
    if (absl::Status s = EraseMessage(nats_, kHistoryStream, message.seq);
        !s.ok()) {
      return s;
    }
  }
  absl::Status erased = profiles_->Erase(profile_id);
  if (erased.ok()) NoticeProfile(profile_id);
  return erased;
}

absl::StatusOr<std::optional<StoredProfileHistory>>
JetStreamJournal::LoadProfile(const std::string& id, int recent) {
  absl::StatusOr<std::string> value = profiles_->Get(id);
  if (absl::IsNotFound(value.status())) return std::nullopt;
  if (!value.ok()) return value.status();
  StoredProfileHistory h;
  absl::StatusOr<std::string> plain =
      Open(journal_internal::ProfileIdentity(id), *value);
  if (!plain.ok() || !h.profile.ParseFromString(*plain)) {
    return absl::DataLossError(
        absl::StrCat("profile ", id, " does not open or parse"));
  }
  absl::StatusOr<std::vector<internal::PastClass>> past = DoReadHistory(id);
  if (!past.ok()) return past.status();
  h.class_count = static_cast<int32_t>(past->size());
  const size_t from =
      past->size() > static_cast<size_t>(recent) ? past->size() - recent : 0;
  for (size_t i = from; i < past->size(); ++i) {
    h.recent.push_back(std::move((*past)[i]));
  }
  return h;
}

absl::StatusOr<std::vector<StoredProfileHistory>>
JetStreamJournal::LoadProfiles(int recent) {
  absl::StatusOr<std::vector<std::string>> keys = profiles_->Keys();
  if (!keys.ok()) return keys.status();
  std::vector<StoredProfileHistory> loaded;
  for (const std::string& id : *keys) {
    absl::StatusOr<std::optional<StoredProfileHistory>> h =
        LoadProfile(id, recent);
    if (!h.ok()) return h.status();
    if (h->has_value()) loaded.push_back(std::move(**h));
  }
  return loaded;
}

void JetStreamJournal::NoticeProfile(const std::string& profile_id) {
  // Best effort: see WatchProfiles.
  natsConnection_Publish(nats_.connection(), kProfileNoticeSubject,
                         profile_id.data(),
                         static_cast<int>(profile_id.size()));
}

void JetStreamJournal::ProfileNoticed(const std::string& profile_id) {
  absl::MutexLock lock(&mu_);
  noticed_profiles_.push_back(profile_id);
}

void JetStreamJournal::WatchProfiles(int recent, ProfileChanged changed) {
  profile_changed_ = std::move(changed);
  absl::StatusOr<Subscription> notices = SubscribeShared(
      nats_, kProfileNoticeSubject, &OnProfileNotice, listening_);
  if (!notices.ok()) {
    LogWarning("cluster: not told of other nodes' profiles: %s",
               std::string(notices.status().message()));
    return;
  }
  profile_notices_ = *std::move(notices);
  profile_reader_ =
      std::thread([this, recent] { ReadNoticedProfiles(recent); });
}

void JetStreamJournal::ReadNoticedProfiles(int recent) {
  while (true) {
    std::vector<std::string> ids;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !noticed_profiles_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      ids.swap(noticed_profiles_);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const std::string& id : ids)
      profile_changed_(id, LoadProfile(id, recent));
  }
}

}  // namespace circuit::cluster
