#include "server/cluster/nats.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"

namespace circuit::cluster {
namespace {

constexpr char kMsgIdHeader[] = "Nats-Msg-Id";

// Frees nats.c options however Connect leaves.
struct OptionsDeleter {
  void operator()(natsOptions* options) const { natsOptions_Destroy(options); }
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseServers(absl::string_view flag) {
  std::vector<std::string> servers;
  for (absl::string_view server : absl::StrSplit(flag, ',')) {
    server = absl::StripAsciiWhitespace(server);
    absl::string_view host_port = server;
    if (!absl::ConsumePrefix(&host_port, "nats://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cluster: \"", server, "\" is not nats://HOST:PORT"));
    }
    const size_t colon = host_port.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port <= 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cluster: \"", server, "\" is not nats://HOST:PORT"));
    }
    servers.emplace_back(server);
  }
  return servers;
}

absl::Status NatsError(absl::string_view what, natsStatus status,
                       jsErrCode code) {
  std::string message = absl::StrCat(what, ": ", natsStatus_GetText(status));
  if (code != 0) absl::StrAppend(&message, " (JetStream error ", code, ")");
  switch (code) {
    case JSStreamNotFoundErr:
    case JSNoMessageFoundErr:
      return absl::NotFoundError(message);
    case JSStreamWrongLastSequenceErr:
    case JSStreamWrongLastMsgIDErr:
      return absl::FailedPreconditionError(message);
    case JSStreamNameExistErr:
      return absl::AlreadyExistsError(message);
    case JSClusterNotAvailErr:
    case JSClusterNoPeersErr:
    case JSInsufficientResourcesErr:
      return absl::UnavailableError(message);
    default:
      break;
  }
  switch (status) {
    case NATS_TIMEOUT:
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED:
    case NATS_NO_RESPONDERS:
      return absl::UnavailableError(message);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::unique_ptr<Nats>> Nats::Connect(NatsOptions options) {
  if (options.servers.empty()) {
    return absl::InvalidArgumentError("--cluster names no NATS server");
  }
  std::unique_ptr<Nats> nats(new Nats(std::move(options)));
  const NatsOptions& o = nats->options_;
  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  std::unique_ptr<natsOptions, OptionsDeleter> opts(raw);
  std::vector<const char*> servers;
  for (const std::string& server : o.servers) servers.push_back(server.c_str());
  const int64_t timeout_ms = absl::ToInt64Milliseconds(o.timeout);
  if (s == NATS_OK) {
    s = natsOptions_SetServers(opts.get(), servers.data(),
                               static_cast<int>(servers.size()));
  }
  if (s == NATS_OK && !o.name.empty()) {
    s = natsOptions_SetName(opts.get(), o.name.c_str());
  }
  // Reconnect for ever, to any server, a little apart; publishes made while
  // disconnected wait in nats.c's buffer and go out on reconnect.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), 250);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts.get(), 100, 1000);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), timeout_ms);
  // A lost server is noticed in seconds, not the default two minutes.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts.get(), 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts.get(), 2);
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts.get(), 64 << 20);
  if (s != NATS_OK) return NatsError("NATS options", s);

  s = natsConnection_Connect(&nats->connection_, opts.get());
  if (s != NATS_OK) {
    return NatsError(
        absl::StrCat("connecting to ", absl::StrJoin(o.servers, ",")), s);
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = timeout_ms;
  js_options.PublishAsync.AckHandler = &Nats::OnPubAck;
  js_options.PublishAsync.AckHandlerClosure = nats.get();
  js_options.PublishAsync.MaxPending = 65536;
  s = natsConnection_JetStream(&nats->js_, nats->connection_, &js_options);
  if (s != NATS_OK) return NatsError("JetStream context", s);
  nats->timer_thread_ =
      std::thread([raw_nats = nats.get()] { raw_nats->RunTimers(); });
  return nats;
}

Nats::~Nats() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (timer_thread_.joinable()) timer_thread_.join();
  if (js_ != nullptr) {
    // Waits briefly for acks in flight, so no handler runs on a dead object.
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = 1000;
    js_PublishAsyncComplete(js_, &wait);
  }
  if (connection_ != nullptr) natsConnection_Close(connection_);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (connection_ != nullptr) natsConnection_Destroy(connection_);
  absl::flat_hash_map<std::string, std::vector<Published>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(pending_);
  }
  for (auto& [id, dones] : left) {
    for (Published& done : dones) {
      done(absl::UnavailableError("the cluster connection closed"));
    }
  }
}

void Nats::PublishAsync(const std::string& subject, const std::string& data,
                        const std::string& msg_id, Published done) {
  {
    absl::MutexLock lock(&mu_);
    std::vector<Published>& waiting = pending_[msg_id];
    waiting.push_back(std::move(done));
    // The first publish of this id is still out: its ack answers both.
    if (waiting.size() > 1) return;
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kMsgIdHeader, msg_id.c_str());
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = absl::ToInt64Milliseconds(options_.timeout);
  if (s == NATS_OK) s = js_PublishMsgAsync(js_, &msg, &options);
  natsMsg_Destroy(msg);  // no-op once nats.c took it
  if (s == NATS_OK) return;
  std::vector<Published> failed;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(msg_id);
    if (it != pending_.end()) {
      failed = std::move(it->second);
      pending_.erase(it);
    }
  }
  for (Published& f : failed) f(NatsError("publishing", s));
}

void Nats::OnPubAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack,
                    jsPubAckErr* error, void* closure) {
  Nats* self = static_cast<Nats*>(closure);
  const char* id = nullptr;
  natsMsgHeader_Get(msg, kMsgIdHeader, &id);
  std::vector<Published> dones;
  if (id != nullptr) {
    absl::MutexLock lock(&self->mu_);
    auto it = self->pending_.find(id);
    if (it != self->pending_.end()) {
      dones = std::move(it->second);
      self->pending_.erase(it);
    }
  }
  absl::StatusOr<uint64_t> result =
      ack != nullptr
          ? absl::StatusOr<uint64_t>(ack->Sequence)
          : absl::StatusOr<uint64_t>(NatsError(
                "publishing", error != nullptr ? error->Err : NATS_ERR,
                error != nullptr ? error->ErrCode : static_cast<jsErrCode>(0)));
  natsMsg_Destroy(msg);
  for (Published& done : dones) done(result);
}

absl::StatusOr<uint64_t> Nats::Publish(const std::string& subject,
                                       const std::string& data,
                                       const std::string& msg_id,
                                       bool expect_no_message) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size()));
  if (s == NATS_OK && !msg_id.empty()) {
    s = natsMsgHeader_Set(msg, kMsgIdHeader, msg_id.c_str());
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = absl::ToInt64Milliseconds(options_.timeout);
  options.ExpectNoMessage = expect_no_message;
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, js_, msg, &options, &code);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) return NatsError("publishing", s, code);
  const uint64_t seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return seq;
}

void Nats::After(absl::Duration delay, absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  timers_.emplace(absl::Now() + delay, std::move(task));
}

void Nats::RunTimers() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    if (!timers_.empty() && timers_.begin()->first <= now) {
      absl::AnyInvocable<void()> task = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      mu_.Unlock();
      task();
      mu_.Lock();
      continue;
    }
    const absl::Time until = timers_.empty() ? now + absl::Milliseconds(100)
                                             : timers_.begin()->first;
    // Wakes for a stop within 100 ms; a task added sooner than `until`
    // waits at most that long too.
    mu_.AwaitWithDeadline(absl::Condition(&stopping_),
                          std::min(until, now + absl::Milliseconds(100)));
  }
}

absl::Status EnsureStream(Nats& nats, const std::string& name,
                          const std::string& subjects, int replicas) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetStreamInfo(&info, nats.jetstream(), name.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return absl::OkStatus();
  }
  if (code != JSStreamNotFoundErr && s != NATS_NOT_FOUND) {
    return NatsError("reading stream " + name, s, code);
  }
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Subjects = subject_list;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = replicas;
  config.Duplicates = 120LL * 1000 * 1000 * 1000;  // ns
  s = js_AddStream(&info, nats.jetstream(), &config, nullptr, &code);
  if (s != NATS_OK) {
    // Another node made it meanwhile.
    if (code == JSStreamNameExistErr) return absl::OkStatus();
    return NatsError("creating stream " + name, s, code);
  }
  jsStreamInfo_Destroy(info);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredMessage>> ReadSubject(
    Nats& nats, const char* stream, const std::string& subject) {
  std::vector<StoredMessage> messages;
  natsMsg* last = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&last, nats.jetstream(), stream, subject.c_str(),
                               nullptr, &code);
  if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return messages;
  if (s != NATS_OK) return NatsError("reading " + subject, s, code);
  const uint64_t last_seq = natsMsg_GetSequence(last);
  natsMsg_Destroy(last);

  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream;
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription* sub = nullptr;
  s = js_SubscribeSync(&sub, nats.jetstream(), subject.c_str(), nullptr,
                       &options, &code);
  if (s != NATS_OK) return NatsError("reading " + subject, s, code);
  Subscription owned(sub);
  const int64_t timeout_ms = absl::ToInt64Milliseconds(nats.options().timeout);
  while (true) {
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, sub, timeout_ms);
    if (s != NATS_OK) return NatsError("reading " + subject, s);
    jsMsgMetaData* meta = nullptr;
    s = natsMsg_GetMetaData(&meta, msg);
    if (s != NATS_OK) {
      natsMsg_Destroy(msg);
      return NatsError("reading " + subject, s);
    }
    StoredMessage& message = messages.emplace_back();
    message.seq = meta->Sequence.Stream;
    message.data.assign(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    const bool done = meta->NumPending == 0 || message.seq >= last_seq;
    jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(msg);
    if (done) return messages;
  }
}

absl::Status EraseMessage(Nats& nats, const std::string& stream, uint64_t seq) {
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s =
      js_EraseMsg(nats.jetstream(), stream.c_str(), seq, nullptr, &code);
  // Gone already (an erase retried): nothing left to overwrite.
  if (s == NATS_OK || code == JSNoMessageFoundErr) return absl::OkStatus();
  return NatsError(absl::StrCat("erasing message ", seq, " of ", stream), s,
                   code);
}

absl::StatusOr<std::unique_ptr<Bucket>> Bucket::Open(Nats& nats,
                                                     const std::string& name,
                                                     int replicas,
                                                     int history) {
  kvStore* kv = nullptr;
  if (js_KeyValue(&kv, nats.jetstream(), name.c_str()) != NATS_OK) {
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = name.c_str();
    config.History = static_cast<uint8_t>(history);
    config.Replicas = replicas;
    config.StorageType = js_FileStorage;
    natsStatus s = js_CreateKeyValue(&kv, nats.jetstream(), &config);
    if (s != NATS_OK) return NatsError("creating bucket " + name, s);
  }
  return std::unique_ptr<Bucket>(new Bucket(nats, kv, name));
}

Bucket::~Bucket() { kvStore_Destroy(kv_); }

absl::StatusOr<uint64_t> Bucket::Put(const std::string& key,
                                     const std::string& data) {
  uint64_t revision = 0;
  natsStatus s = kvStore_Put(&revision, kv_, key.c_str(), data.data(),
                             static_cast<int>(data.size()));
  if (s != NATS_OK) return NatsError("writing " + name_ + "/" + key, s);
  return revision;
}

absl::StatusOr<uint64_t> Bucket::Swap(const std::string& key,
                                      const std::string& data,
                                      uint64_t revision) {
  uint64_t stored = 0;
  const int length = static_cast<int>(data.size());
  natsStatus s = revision == 0 ? kvStore_Create(&stored, kv_, key.c_str(),
                                                data.data(), length)
                               : kvStore_Update(&stored, kv_, key.c_str(),
                                                data.data(), length, revision);
  if (s == NATS_OK) return stored;
  absl::Status status = NatsError("writing " + name_ + "/" + key, s);
  // nats.c answers a revision that is not the key's with NATS_ERR (the
  // server's "wrong last sequence").
  if (s == NATS_ERR) return absl::FailedPreconditionError(status.message());
  return status;
}

absl::StatusOr<Bucket::Value> Bucket::Get(const std::string& key) {
  kvEntry* entry = nullptr;
  natsStatus s = kvStore_Get(&entry, kv_, key.c_str());
  if (s == NATS_NOT_FOUND) {
    return absl::NotFoundError(absl::StrCat(name_, "/", key, " not found"));
  }
  if (s != NATS_OK) return NatsError("reading " + name_ + "/" + key, s);
  Value value;
  value.data.assign(static_cast<const char*>(kvEntry_Value(entry)),
                    kvEntry_ValueLen(entry));
  value.revision = kvEntry_Revision(entry);
  kvEntry_Destroy(entry);
  return value;
}

absl::StatusOr<std::vector<std::string>> Bucket::Keys() {
  kvKeysList list{};
  natsStatus s = kvStore_Keys(&list, kv_, nullptr);
  std::vector<std::string> keys;
  if (s == NATS_NOT_FOUND) return keys;
  if (s != NATS_OK) return NatsError("listing " + name_, s);
  for (int i = 0; i < list.Count; ++i) keys.emplace_back(list.Keys[i]);
  kvKeysList_Destroy(&list);
  return keys;
}

absl::StatusOr<std::unique_ptr<Bucket::Revisions>> Bucket::WatchRevisions() {
  kvWatchOptions options;
  kvWatchOptions_Init(&options);
  options.MetaOnly = true;
  kvWatcher* watcher = nullptr;
  natsStatus s = kvStore_WatchAll(&watcher, kv_, &options);
  if (s != NATS_OK) return NatsError("watching " + name_, s);
  return std::make_unique<Revisions>(watcher);
}

absl::StatusOr<std::optional<Bucket::Revisions::Change>>
Bucket::Revisions::Next(absl::Duration timeout) {
  kvEntry* entry = nullptr;
  natsStatus s =
      kvWatcher_Next(&entry, watcher_,
                     std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  if (s == NATS_TIMEOUT) return std::nullopt;
  if (s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("a bucket's watcher stopped: ", natsStatus_GetText(s)));
  }
  if (entry == nullptr) return std::nullopt;
  Change change{kvEntry_Key(entry), kvEntry_Revision(entry)};
  kvEntry_Destroy(entry);
  return change;
}

absl::Status Bucket::Erase(const std::string& key, uint64_t revision) {
  natsStatus s = kvStore_Delete(kv_, key.c_str());
  if (s != NATS_OK) return NatsError("deleting " + name_ + "/" + key, s);
  return EraseRevision(revision);
}

absl::Status Bucket::EraseRevision(uint64_t revision) {
  return EraseMessage(nats_, "KV_" + name_, revision);
}

absl::StatusOr<std::unique_ptr<RecordStream>> RecordStream::Open(
    Nats& nats, const std::string& name, const std::string& prefix,
    int replicas) {
  if (absl::Status s = EnsureStream(nats, name, prefix + ".>", replicas);
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<RecordStream>(new RecordStream(nats, name, prefix));
}

absl::Status RecordStream::Put(const std::string& key,
                               const std::string& data) {
  natsMsg* last = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subject = Subject(key);
  uint64_t replaced = 0;
  natsStatus s = js_GetLastMsg(&last, nats_.jetstream(), name_.c_str(),
                               subject.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    replaced = natsMsg_GetSequence(last);
    natsMsg_Destroy(last);
  } else if (s != NATS_NOT_FOUND && code != JSNoMessageFoundErr) {
    return NatsError("reading " + subject, s, code);
  }
  absl::StatusOr<uint64_t> seq = nats_.Publish(subject, data, "", false);
  if (!seq.ok()) return seq.status();
  if (replaced != 0) return EraseMessage(nats_, name_, replaced);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RecordStream::Get(const std::string& key) {
  natsMsg* last = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subject = Subject(key);
  natsStatus s = js_GetLastMsg(&last, nats_.jetstream(), name_.c_str(),
                               subject.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) {
    return absl::NotFoundError(absl::StrCat(subject, " has no value"));
  }
  if (s != NATS_OK) return NatsError("reading " + subject, s, code);
  std::string data(natsMsg_GetData(last), natsMsg_GetDataLength(last));
  natsMsg_Destroy(last);
  return data;
}

absl::StatusOr<std::vector<std::string>> RecordStream::Keys() {
  jsOptions options;
  jsOptions_Init(&options);
  const std::string all = prefix_ + ".>";
  options.Stream.Info.SubjectsFilter = all.c_str();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, nats_.jetstream(), name_.c_str(),
                                  &options, &code);
  if (s != NATS_OK) return NatsError("listing " + name_, s, code);
  std::vector<std::string> keys;
  if (info->State.Subjects != nullptr) {
    for (int i = 0; i < info->State.Subjects->Count; ++i) {
      const jsStreamStateSubject& subject = info->State.Subjects->List[i];
      if (subject.Msgs == 0) continue;
      keys.emplace_back(
          absl::string_view(subject.Subject).substr(prefix_.size() + 1));
    }
  }
  jsStreamInfo_Destroy(info);
  return keys;
}

absl::Status RecordStream::Erase(const std::string& key) {
  absl::StatusOr<std::vector<StoredMessage>> stored =
      ReadSubject(nats_, name_.c_str(), Subject(key));
  if (!stored.ok()) return stored.status();
  for (const StoredMessage& message : *stored) {
    if (absl::Status s = EraseMessage(nats_, name_, message.seq); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    sub_ = other.sub_;
    other.sub_ = nullptr;
  }
  return *this;
}

absl::Status nats_internal::SubscribeWith(Nats& nats,
                                          const std::string& subject,
                                          natsMsgHandler handler, void* closure,
                                          void (*free_closure)(void*),
                                          Subscription* out) {
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, nats.connection(),
                                          subject.c_str(), handler, closure);
  if (s == NATS_OK)
    s = natsSubscription_SetOnCompleteCB(sub, free_closure, closure);
  if (s != NATS_OK) {
    if (sub != nullptr) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    // Without a subscription no callback can hold the closure.
    free_closure(closure);
    return NatsError(absl::StrCat("subscribing to ", subject), s);
  }
  *out = Subscription(sub);
  return absl::OkStatus();
}

void Subscription::Reset() {
  if (sub_ == nullptr) return;
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
  sub_ = nullptr;
}

}  // namespace circuit::cluster
