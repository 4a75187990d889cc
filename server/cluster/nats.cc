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

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    sub_ = other.sub_;
    other.sub_ = nullptr;
  }
  return *this;
}

void Subscription::Reset() {
  if (sub_ == nullptr) return;
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
  sub_ = nullptr;
}

}  // namespace circuit::cluster
