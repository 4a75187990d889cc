#include "server/cluster/class_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace circuit::cluster {
namespace {

// Between a failed append's retries.
constexpr absl::Duration kRetryPause = absl::Milliseconds(250);
// How long an acked append may go unread before the reader resubscribes.
constexpr absl::Duration kReadBackPatience = absl::Seconds(2);

std::string EntryMsgId(absl::string_view class_id, int64_t term, int64_t n) {
  return absl::StrCat(class_id, ".", term, ".", n);
}

}  // namespace

std::string ClassSubject(absl::string_view class_id) {
  return absl::StrCat("circuit.class.", class_id);
}

absl::Status EnsureClassStream(Nats& nats, int replicas) {
  return EnsureStream(nats, kClassStream, "circuit.class.>", replicas);
}

absl::Status CreateClassLog(Nats& nats, const internal::ClassRecord& record,
                            const std::string& node, absl::Duration timeout) {
  internal::LogRecord created;
  created.set_node(node);
  *created.mutable_created() = record;
  const std::string& class_id = record.info().class_id();
  const std::string subject = ClassSubject(class_id);
  const std::string bytes = created.SerializeAsString();
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(100);
  while (true) {
    // No message id: the stream would take a second create for a retry and
    // ack it; the subject's emptiness is the check.
    absl::StatusOr<uint64_t> seq =
        nats.Publish(subject, bytes, "", /*expect_no_message=*/true);
    if (seq.ok()) return absl::OkStatus();
    if (absl::IsFailedPrecondition(seq.status())) {
      // "Wrong last sequence": the subject has a record. An earlier try
      // that got no answer may have landed it.
      absl::StatusOr<std::vector<StoredMessage>> there =
          ReadSubject(nats, kClassStream, subject);
      if (there.ok() && !there->empty() && (*there)[0].data == bytes) {
        return absl::OkStatus();
      }
      if (there.ok() || absl::Now() + pause > deadline) {
        return absl::AlreadyExistsError(
            absl::StrCat("class ", class_id, " already exists"));
      }
    } else if (!absl::IsUnavailable(seq.status()) ||
               absl::Now() + pause > deadline) {
      return seq.status();
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Seconds(2));
  }
}

// --- LogReader ---------------------------------------------------------------

struct LogReader::Core {
  Nats* nats = nullptr;
  std::string class_id;
  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  FenceReader fence ABSL_GUARDED_BY(mu);
  OnRead on_read ABSL_GUARDED_BY(mu);
  // The stream sequence of the last record read: a resubscription starts
  // after it, and what an older subscription still delivers up to it is
  // dropped.
  uint64_t last_seq ABSL_GUARDED_BY(mu) = 0;
  // The subscriptions (the current one last); apart from `mu`, so a
  // resubscription never waits for a callback.
  absl::Mutex sub_mu;
  std::vector<natsSubscription*> subs ABSL_GUARDED_BY(sub_mu);
};

namespace {

void OnLogMessage(natsConnection* /*nc*/, natsSubscription* /*sub*/,
                  natsMsg* msg, void* closure) {
  auto& core = *static_cast<std::shared_ptr<LogReader::Core>*>(closure);
  internal::LogRecord record;
  const bool parsed =
      record.ParseFromArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  uint64_t seq = 0;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  natsMsg_Destroy(msg);
  absl::MutexLock lock(&core->mu);
  if (core->stopped || seq <= core->last_seq) return;
  core->last_seq = seq;
  if (!parsed) {
    LogWarning("class %s: a record of its log does not parse; ignored",
               core->class_id);
    return;
  }
  std::vector<internal::LogRecord> taken;
  const FenceReader::Read read = core->fence.Next(record, &taken);
  core->on_read(record, read, std::move(taken));
}

void OnLogComplete(void* closure) {
  delete static_cast<std::shared_ptr<LogReader::Core>*>(closure);
}

// Subscribes to the class's log from `start_seq` (0: its start).
absl::Status Subscribe(const std::shared_ptr<LogReader::Core>& core,
                       uint64_t start_seq) {
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = kClassStream;
  options.Ordered = true;
  if (start_seq == 0) {
    options.Config.DeliverPolicy = js_DeliverAll;
  } else {
    options.Config.DeliverPolicy = js_DeliverByStartSequence;
    options.Config.OptStartSeq = start_seq;
  }
  auto* closure = new std::shared_ptr<LogReader::Core>(core);
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subject = ClassSubject(core->class_id);
  natsSubscription* sub = nullptr;
  natsStatus s = js_Subscribe(&sub, core->nats->jetstream(), subject.c_str(),
                              &OnLogMessage, closure, nullptr, &options, &code);
  if (s == NATS_OK) {
    s = natsSubscription_SetOnCompleteCB(sub, &OnLogComplete, closure);
  }
  if (s != NATS_OK) {
    if (sub != nullptr) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    // Without a subscription no callback can hold the closure.
    delete closure;
    return NatsError(absl::StrCat("reading the log of class ", core->class_id),
                     s, code);
  }
  absl::MutexLock lock(&core->sub_mu);
  core->subs.push_back(sub);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogReader>> LogReader::Start(
    Nats& nats, const std::string& class_id, OnRead on_read) {
  auto core = std::make_shared<Core>();
  core->nats = &nats;
  core->class_id = class_id;
  {
    absl::MutexLock lock(&core->mu);
    core->on_read = std::move(on_read);
  }
  if (absl::Status s = Subscribe(core, 0); !s.ok()) return s;
  return std::unique_ptr<LogReader>(new LogReader(std::move(core)));
}

absl::Status LogReader::Resubscribe() {
  uint64_t last = 0;
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->stopped) return absl::OkStatus();
    last = core_->last_seq;
  }
  if (absl::Status s = Subscribe(core_, last + 1); !s.ok()) return s;
  // The older ones go; what they still deliver is dropped by its seq.
  std::vector<natsSubscription*> old;
  {
    absl::MutexLock lock(&core_->sub_mu);
    old.assign(core_->subs.begin(), core_->subs.end() - 1);
    core_->subs.erase(core_->subs.begin(), core_->subs.end() - 1);
  }
  for (natsSubscription* sub : old) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  return absl::OkStatus();
}

LogReader::~LogReader() {
  {
    absl::MutexLock lock(&core_->mu);
    core_->stopped = true;
  }
  absl::MutexLock lock(&core_->sub_mu);
  for (natsSubscription* sub : core_->subs) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  core_->subs.clear();
}

// --- OwnedLog ----------------------------------------------------------------

OwnedLog::OwnedLog(Nats& nats, Options options)
    : nats_(nats),
      options_(std::move(options)),
      subject_(ClassSubject(options_.class_id)) {
  absl::MutexLock lock(&alive_->mu);
  alive_->log = this;
}

OwnedLog::~OwnedLog() {
  reader_.reset();
  absl::MutexLock lock(&alive_->mu);
  alive_->log = nullptr;
}

absl::StatusOr<std::unique_ptr<OwnedLog>> OwnedLog::Claim(Nats& nats,
                                                          Options options,
                                                          Claimed* claimed) {
  std::unique_ptr<OwnedLog> log(new OwnedLog(nats, std::move(options)));
  const Options& o = log->options_;
  {
    absl::MutexLock lock(&log->mu_);
    log->claimed_out_ = claimed;
  }
  absl::StatusOr<std::unique_ptr<LogReader>> reader = LogReader::Start(
      nats, o.class_id,
      [alive = log->alive_](const internal::LogRecord& record,
                            FenceReader::Read read,
                            std::vector<internal::LogRecord> taken) {
        absl::MutexLock lock(&alive->mu);
        if (alive->log != nullptr)
          alive->log->Read(record, read, std::move(taken));
      });
  if (!reader.ok()) return reader.status();
  log->reader_ = *std::move(reader);

  internal::LogRecord takeover;
  takeover.set_term(o.term);
  takeover.set_node(o.node);
  takeover.mutable_takeover();
  absl::StatusOr<uint64_t> seq =
      nats.Publish(log->subject_, takeover.SerializeAsString(),
                   absl::StrCat(o.class_id, ".takeover.", o.term), false);
  const absl::Time deadline = absl::Now() + o.timeout;
  absl::MutexLock lock(&log->mu_);
  // A publish that timed out may still land: its read-back decides.
  if (!seq.ok() && !absl::IsUnavailable(seq.status())) return seq.status();
  while (!log->claimed_ && log->claim_failed_.ok()) {
    if (log->changed_.WaitWithDeadline(&log->mu_, deadline)) {
      if (log->claimed_ || !log->claim_failed_.ok()) break;
      log->claimed_out_ = nullptr;
      return absl::UnavailableError(absl::StrCat(
          "class ", o.class_id, ": its takeover for term ", o.term,
          " was not read back within ", absl::FormatDuration(o.timeout)));
    }
  }
  log->claimed_out_ = nullptr;
  if (!log->claim_failed_.ok()) return log->claim_failed_;
  return log;
}

void OwnedLog::Read(const internal::LogRecord& record, FenceReader::Read read,
                    std::vector<internal::LogRecord> taken) {
  std::vector<absl::AnyInvocable<void(absl::Status)>> acked;
  {
    absl::MutexLock lock(&mu_);
    if (!claimed_) {
      if (!claim_failed_.ok()) return;
      switch (read) {
        case FenceReader::Read::kCreated:
          if (claimed_out_ != nullptr) {
            claimed_out_->record = record.created();
          }
          return;
        case FenceReader::Read::kTaken:
          if (claimed_out_ != nullptr) {
            for (auto& entry : taken) {
              claimed_out_->entries.push_back(std::move(entry));
            }
          }
          return;
        case FenceReader::Read::kTakeover:
          // An older owner's: what it took stays taken; what it appends
          // from here on is not.
          if (record.term() < options_.term) return;
          if (record.term() > options_.term) {
            claim_failed_ = absl::FailedPreconditionError(
                absl::StrCat("class ", options_.class_id, ": node ",
                             record.node(), " took it with term ",
                             record.term(), " before term ", options_.term));
            changed_.SignalAll();
            return;
          }
          if (claimed_out_ == nullptr || !claimed_out_->record.has_info()) {
            claim_failed_ = absl::NotFoundError(absl::StrCat(
                "class ", options_.class_id, " was never created"));
          } else {
            claimed_ = true;
          }
          changed_.SignalAll();
          return;
        default:
          // Our own takeover, ignored: a newer term came first.
          if (record.has_takeover() && record.term() == options_.term) {
            claim_failed_ = absl::FailedPreconditionError(absl::StrCat(
                "class ", options_.class_id, ": term ", options_.term,
                " is fenced by a takeover of term ", record.term()));
            changed_.SignalAll();
          }
          return;
      }
    }
    if (!lost_.ok()) return;
    if (read == FenceReader::Read::kTakeover) {
      // A newer term took the class: step down (Lose, below).
    } else {
      if (read != FenceReader::Read::kTaken) return;
      for (const internal::LogRecord& entry : taken) {
        auto it = pending_.find(entry.n());
        if (entry.term() != options_.term || it == pending_.end()) continue;
        acked.push_back(std::move(it->second.done));
        pending_.erase(it);
      }
    }
  }
  if (read == FenceReader::Read::kTakeover) {
    Lose(absl::UnavailableError(absl::StrCat(
        "class ", options_.class_id, " was taken over by node ", record.node(),
        " (term ", record.term(), "); this node no longer owns it")));
    return;
  }
  for (auto& done : acked) done(absl::OkStatus());
}

void OwnedLog::Append(std::string entry,
                      absl::AnyInvocable<void(absl::Status)> done) {
  Append([&entry](int64_t) { return std::move(entry); }, std::move(done));
}

void OwnedLog::Append(absl::FunctionRef<std::string(int64_t n)> entry_for,
                      absl::AnyInvocable<void(absl::Status)> done) {
  int64_t n = 0;
  absl::Status lost;
  {
    absl::MutexLock lock(&mu_);
    lost = lost_;
    if (lost.ok()) {
      n = next_n_++;
      internal::LogRecord record;
      record.set_term(options_.term);
      record.set_n(n);
      record.set_node(options_.node);
      record.set_entry(entry_for(n));
      Pending& pending = pending_[n];
      pending.msg_id = EntryMsgId(options_.class_id, options_.term, n);
      pending.data = record.SerializeAsString();
      pending.deadline = absl::Now() + options_.timeout;
      pending.done = std::move(done);
    }
  }
  if (!lost.ok()) {
    done(lost);
    return;
  }
  Publish(n);
}

void OwnedLog::Publish(int64_t n) {
  std::string msg_id;
  std::string data;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(n);
    if (it == pending_.end() || !lost_.ok()) return;
    msg_id = it->second.msg_id;
    data = it->second.data;
  }
  nats_.PublishAsync(subject_, data, msg_id,
                     [alive = alive_, n](absl::StatusOr<uint64_t> seq) {
                       absl::MutexLock lock(&alive->mu);
                       if (alive->log != nullptr) {
                         alive->log->Published(n, seq.status());
                       }
                     });
}

void OwnedLog::WatchReadBack(int64_t n) {
  nats_.After(kReadBackPatience, [alive = alive_, n] {
    std::shared_ptr<LogReader> reader;
    {
      absl::MutexLock lock(&alive->mu);
      OwnedLog* log = alive->log;
      if (log == nullptr) return;
      bool late = false;
      {
        absl::MutexLock l(&log->mu_);
        auto it = log->pending_.find(n);
        if (it == log->pending_.end() || !log->lost_.ok()) return;
        late = absl::Now() >= it->second.deadline;
      }
      if (late) {
        log->Lose(absl::UnavailableError(absl::StrCat(
            "class ", log->options_.class_id, ": an append of term ",
            log->options_.term, " was not read back in time")));
        return;
      }
      reader = log->reader_;
      log->WatchReadBack(n);
    }
    if (absl::Status s = reader->Resubscribe(); !s.ok()) {
      LogWarning("%s", s.message());
    }
  });
}

void OwnedLog::Published(int64_t n, absl::Status status) {
  if (status.ok()) {
    // Its read-back acks it; if that does not come, the reader is stuck.
    WatchReadBack(n);
    return;
  }
  bool retry = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(n);
    if (it == pending_.end() || !lost_.ok()) return;
    retry = absl::IsUnavailable(status) && absl::Now() < it->second.deadline;
  }
  if (retry) {
    // The same message id: if the first one landed, the stream drops this
    // one, and readers take an n once anyway.
    nats_.After(kRetryPause, [alive = alive_, n] {
      absl::MutexLock lock(&alive->mu);
      if (alive->log != nullptr) alive->log->Publish(n);
    });
    return;
  }
  Lose(absl::UnavailableError(
      absl::StrCat("class ", options_.class_id, ": an append of term ",
                   options_.term, " failed: ", status.message())));
}

void OwnedLog::Lose(absl::Status why) {
  std::map<int64_t, Pending> failed;
  absl::AnyInvocable<void(absl::Status)> on_lost;
  {
    absl::MutexLock lock(&mu_);
    if (!lost_.ok()) return;
    lost_ = why;
    failed.swap(pending_);
    on_lost = std::move(on_lost_);
  }
  LogWarning("%s", why.message());
  for (auto& [n, pending] : failed) pending.done(why);
  if (on_lost) on_lost(why);
}

void OwnedLog::OnLost(absl::AnyInvocable<void(absl::Status)> on_lost) {
  absl::MutexLock lock(&mu_);
  on_lost_ = std::move(on_lost);
}

bool OwnedLog::owned() const {
  absl::MutexLock lock(&mu_);
  return lost_.ok();
}

}  // namespace circuit::cluster
