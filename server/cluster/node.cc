#include "server/cluster/node.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/cluster/class_log.h"
#include "server/common/log.h"
#include "server/common/secrets.h"
#include "server/common/stats.h"

namespace circuit::cluster {
namespace {

// What sealed forwarded inputs and replies are bound to.
constexpr char kRequestPurpose[] = "circuit.forward.request";
constexpr char kReplyPurpose[] = "circuit.forward.reply";

}  // namespace

std::string NodeSubject(const std::string& node) {
  return absl::StrCat("circuit.node.", node);
}

struct ClusterNode::Core {
  Nats* nats = nullptr;
  ClusterNode::Options options;
  // This node's inbox: replies come to <inbox>.<request number>.
  std::string inbox;

  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  uint64_t next_request ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<uint64_t, Replied> pending ABSL_GUARDED_BY(mu);
  std::function<void(internal::Forwarded, Answer)> serve ABSL_GUARDED_BY(mu);

  std::string Seal(const std::string& plain, const char* purpose) const {
    if (options.keys == nullptr) return plain;
    absl::StatusOr<std::string> sealed = options.keys->Seal(plain, purpose);
    // Only when OpenSSL has no randomness: nothing leaves unsealed.
    return sealed.ok() ? *std::move(sealed) : std::string();
  }
  absl::StatusOr<std::string> Open(absl::string_view data,
                                   const char* purpose) const {
    if (options.keys == nullptr) return std::string(data);
    return options.keys->Open(data, purpose);
  }

  Replied Take(uint64_t id) {
    absl::MutexLock lock(&mu);
    auto it = pending.find(id);
    if (it == pending.end()) return nullptr;
    Replied done = std::move(it->second);
    pending.erase(it);
    return done;
  }
};

namespace {

using Core = ClusterNode::Core;

void OnReply(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* msg,
             void* closure) {
  auto& core = *static_cast<std::shared_ptr<Core>*>(closure);
  const std::string subject = natsMsg_GetSubject(msg);
  const std::string data(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  // The server's answer when nothing listens on the owner's subject (the
  // owner died or stopped): not a reply of the owner's.
  const bool no_responders = natsMsg_IsNoResponders(msg);
  natsMsg_Destroy(msg);
  uint64_t id = 0;
  const size_t dot = subject.rfind('.');
  if (dot == std::string::npos ||
      !absl::SimpleAtoi(subject.substr(dot + 1), &id)) {
    return;
  }
  ClusterLink::Replied done = core->Take(id);
  if (done == nullptr) return;  // timed out already
  if (no_responders) {
    done(absl::UnavailableError(
        "the class's owner does not answer (no node listens for it: it may "
        "have stopped); retry"));
    return;
  }
  internal::ForwardedReply reply;
  absl::StatusOr<std::string> plain = core->Open(data, kReplyPurpose);
  if (!plain.ok() || !reply.ParseFromString(*plain)) {
    done(
        absl::InternalError("the class's owner sent a reply that does not "
                            "open or parse"));
    return;
  }
  done(std::move(reply));
}

void OnRequest(natsConnection* nc, natsSubscription* /*sub*/, natsMsg* msg,
               void* closure) {
  auto& core = *static_cast<std::shared_ptr<Core>*>(closure);
  const char* reply_to = natsMsg_GetReply(msg);
  const std::string reply_subject = reply_to == nullptr ? "" : reply_to;
  const std::string data(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
  if (reply_subject.empty()) return;
  std::function<void(internal::Forwarded, ClusterLink::Answer)> serve;
  {
    absl::MutexLock lock(&core->mu);
    if (core->stopped) return;
    serve = core->serve;
  }
  std::shared_ptr<Core> keep = core;
  ClusterLink::Answer answer = [keep, nc,
                                reply_subject](internal::ForwardedReply reply) {
    {
      absl::MutexLock lock(&keep->mu);
      if (keep->stopped) return;
    }
    const std::string sealed =
        keep->Seal(reply.SerializeAsString(), kReplyPurpose);
    natsConnection_Publish(nc, reply_subject.c_str(), sealed.data(),
                           static_cast<int>(sealed.size()));
  };
  internal::Forwarded request;
  absl::StatusOr<std::string> plain = core->Open(data, kRequestPurpose);
  if (!plain.ok() || !request.ParseFromString(*plain)) {
    internal::ForwardedReply refused;
    refused.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
    refused.set_message("a forwarded input that does not open or parse");
    answer(std::move(refused));
    return;
  }
  if (serve == nullptr) {
    internal::ForwardedReply refused;
    refused.set_code(static_cast<int>(absl::StatusCode::kUnavailable));
    refused.set_message("this node is starting; retry");
    answer(std::move(refused));
    return;
  }
  serve(std::move(request), std::move(answer));
}

// A class's log as this node follows it.
class FollowedLog : public ClusterLink::Following {
 public:
  explicit FollowedLog(std::unique_ptr<LogReader> reader)
      : reader_(std::move(reader)) {}
  absl::Status Refresh() override { return reader_->Resubscribe(); }

 private:
  std::unique_ptr<LogReader> reader_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Start(
    Nats& nats, JetStreamJournal& journal, Options options) {
  auto core = std::make_shared<Core>();
  core->nats = &nats;
  core->options = std::move(options);
  core->inbox =
      absl::StrCat("circuit.reply.", journal.node(), ".", RandomHex(8));
  std::unique_ptr<ClusterNode> node(new ClusterNode(nats, journal, core));
  absl::StatusOr<Subscription> replies =
      SubscribeShared(nats, absl::StrCat(core->inbox, ".*"), &OnReply, core);
  if (!replies.ok()) return replies.status();
  node->replies_ = *std::move(replies);
  absl::StatusOr<Subscription> requests =
      SubscribeShared(nats, NodeSubject(journal.node()), &OnRequest, core);
  if (!requests.ok()) return requests.status();
  node->requests_ = *std::move(requests);
  // Both subscriptions are known to the server before anyone forwards.
  natsConnection_Flush(nats.connection());
  return node;
}

ClusterNode::~ClusterNode() { Stop(); }

std::optional<ClusterLink::Located> ClusterNode::Locate(
    const std::string& class_id, const std::string& join_code) {
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->stopped) return std::nullopt;
  }
  std::optional<JetStreamJournal::Where> where =
      journal_.Locate(class_id, join_code);
  if (!where.has_value()) return std::nullopt;
  return Located{std::move(where->class_id), std::move(where->owner)};
}

void ClusterNode::ServeForwarded(
    std::function<void(internal::Forwarded, Answer)> serve) {
  absl::MutexLock lock(&core_->mu);
  core_->serve = std::move(serve);
}

void ClusterNode::Stop() {
  absl::flat_hash_map<uint64_t, Replied> pending;
  {
    absl::MutexLock lock(&core_->mu);
    core_->stopped = true;
    pending.swap(core_->pending);
  }
  requests_.Reset();
  replies_.Reset();
  for (auto& [id, done] : pending) {
    done(absl::UnavailableError("this node is shutting down"));
  }
}

void ClusterNode::Forward(internal::Forwarded request, Replied done) {
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->stopped) {
      done(absl::UnavailableError("this node is shutting down"));
      return;
    }
  }
  std::optional<JetStreamJournal::Where> where =
      journal_.Locate(request.class_id(), "");
  if (!where.has_value() || where->owner.empty()) {
    done(absl::UnavailableError(absl::StrCat(
        "class ", request.class_id(),
        " has no owner right now (it is moving between nodes); retry")));
    return;
  }
  uint64_t id = 0;
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->stopped) {
      done(absl::UnavailableError("this node is shutting down"));
      return;
    }
    id = core_->next_request++;
    core_->pending.emplace(id, std::move(done));
  }
  const std::string sealed =
      core_->Seal(request.SerializeAsString(), kRequestPurpose);
  const std::string reply_to = absl::StrCat(core_->inbox, ".", id);
  const std::string subject = NodeSubject(where->owner);
  natsStatus s = natsConnection_PublishRequest(
      nats_.connection(), subject.c_str(), reply_to.c_str(), sealed.data(),
      static_cast<int>(sealed.size()));
  if (s != NATS_OK) {
    if (Replied failed = core_->Take(id)) {
      failed(NatsError(absl::StrCat("forwarding to node ", where->owner), s));
    }
    return;
  }
  std::shared_ptr<Core> core = core_;
  const std::string owner = where->owner;
  nats_.After(core_->options.timeout, [core, id, owner] {
    if (Replied late = core->Take(id)) {
      ProcessStats().cluster_forward_failures.fetch_add(
          1, std::memory_order_relaxed);
      late(absl::UnavailableError(absl::StrCat(
          "node ", owner,
          " (the class's owner) did not answer in time; it may have recorded "
          "the input: retry it (a report with the same report_id, a join "
          "with the same client_join_id)")));
    }
  });
}

absl::StatusOr<std::unique_ptr<ClusterLink::Following>> ClusterNode::Follow(
    const std::string& class_id,
    absl::AnyInvocable<void(const internal::ClassRecord&)> created,
    absl::AnyInvocable<void(internal::Entry)> taken) {
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->stopped) {
      return absl::UnavailableError("this node is shutting down");
    }
  }
  JetStreamJournal* journal = &journal_;
  absl::StatusOr<std::unique_ptr<LogReader>> reader = LogReader::Start(
      nats_, class_id,
      [journal, class_id, created = std::move(created),
       taken = std::move(taken)](
          const internal::LogRecord& record, FenceReader::Read read,
          std::vector<internal::LogRecord> entries) mutable {
        if (read == FenceReader::Read::kCreated) {
          created(record.created());
          return;
        }
        for (const internal::LogRecord& logged : entries) {
          absl::StatusOr<internal::Entry> entry =
              journal->OpenEntry(class_id, logged);
          if (!entry.ok()) {
            // Every node skips it alike (the owner's replay fails on it).
            LogError("%s", std::string(entry.status().message()));
            continue;
          }
          taken(*std::move(entry));
        }
      });
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<Following>(new FollowedLog(*std::move(reader)));
}

}  // namespace circuit::cluster
